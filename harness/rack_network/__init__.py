"""The rack's own network on the harness host: DHCP for phones (dnsmasq), node addresses."""
