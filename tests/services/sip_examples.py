# ruff: noqa: E501  (literal wire examples keep one line per header, as on the wire)
"""The REGISTERs of docs/REAL_WIRE.md §1.8, copied literally; only addresses, ports and
the transport are put in place (`{cm}`, `{cm_port}`, `{phone}`, `{port}`, `{T}`/`{t}`)
so they can travel over loopback. Content-Length is recomputed for the pasted body."""

from __future__ import annotations

EXAMPLE_A = """\
REGISTER sip:{cm}:{cm_port} SIP/2.0
Via: SIP/2.0/{T} {phone}:{port};branch=z9hG4bKd451a4fa
From: <sip:5678@{cm}>;tag=0011223344552c6644b6e5d2-f01c795a
To: <sip:5678@{cm}>
Call-ID: 00112233-4455000a-44da4e09-0de51424@{phone}
Max-Forwards: 70
Date: Wed, 15 Jul 2015 12:42:56 GMT
CSeq: 11435 REGISTER
User-Agent: Cisco-CP7975G/9.3.1
Contact: <sip:9e9e1ffb-0206-4ea1-6d77-ba04a72017f7@{phone}:{port};transport={t}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-001122334455>";+u.sip!devicename.ccm.cisco.com="SEP001122334455";+u.sip!model.ccm.cisco.com="437"
Supported: replaces,join,sdp-anat,norefersub,resource-priority,extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,X-cisco-config,X-cisco-sis-6.0.0,X-cisco-xsi-8.5.1
Content-Length: 0
Expires: 3600

"""

BODY_B = """\
--uniqueBoundary
Content-Type: application/x-cisco-remotecc-request+xml
Content-Disposition: session;handling=optional

<x-cisco-remotecc-request><bulkregisterreq><contact all="true"><register></register></contact></bulkregisterreq></x-cisco-remotecc-request>
--uniqueBoundary
Content-Type: application/x-cisco-remotecc-request+xml
Content-Disposition: session;handling=optional

<x-cisco-remotecc-request><optionsind><combine max="6"><remotecc><status></status></remotecc><service-control></service-control></combine><dialog usage="hook status"><unot></unot><sub></sub></dialog><dialog usage="shared line"><unot></unot><sub></sub></dialog><presence usage="blf speed dial"><unot></unot><sub></sub></presence><joinreq></joinreq></optionsind></x-cisco-remotecc-request>
--uniqueBoundary--
"""

EXAMPLE_B = """\
REGISTER sip:{cm}:{cm_port} SIP/2.0
Via: SIP/2.0/{T} {phone}:{port};branch=z9hG4bK53f227fc
From: <sip:6010@{cm}>;tag=0022446688aa027db8ea0454-26b9fb0c
To: <sip:6010@{cm}>
Call-ID: 00224466-88aa011e-280209a4-567e339c@{phone}
Max-Forwards: 70
Date: Wed, 03 Mar 2010 01:18:34 GMT
CSeq: 240 REGISTER
User-Agent: Cisco-CP7970G/8.4.0
Contact: <sip:6010@{phone}:{port};transport={t}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-0022446688aa>";+u.sip!model.ccm.cisco.com="30006"
Supported: replaces,join,norefersub,extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,X-cisco-config,X-cisco-sis-3.0.0,X-cisco-xsi-7.0.1
Reason: SIP;cause=200;text="cisco-alarm:23 Name=SEP0022446688AA Load=SIP70.8-4-2-30S Last=reset-restart"
Expires: 3600
Content-Type: multipart/mixed; boundary=uniqueBoundary
Mime-Version: 1.0
Content-Length: 982

""" + BODY_B

EXAMPLE_C = """\
REGISTER sip:{cm}:{cm_port} SIP/2.0
Via: SIP/2.0/{T} {phone}:{port};branch=z9hG4bK66da98ae
From: <sip:2222@{cm}>;tag=001122334455001411d7279b-7ecf20ad
To: <sip:2222@{cm}>
Call-ID: 00112233-44550003-255b99f4-783a63d4@{phone}
Max-Forwards: 70
Session-ID: cead41d700105000a000001122334455;remote=00000000000000000000000000000000
Date: Sat, 09 Mar 2019 18:32:45 GMT
CSeq: 113 REGISTER
User-Agent: Cisco-CP7821/12.1.1
Contact: <sip:04984998-fe29-08c0-6d47-5593bf4ce606@{phone}:{port};transport={t}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-001122334455>";+u.sip!devicename.ccm.cisco.com="SEP001122334455";+u.sip!model.ccm.cisco.com="621"
Supported: replaces,join,sdp-anat,norefersub,resource-priority,extended-refer,X-cisco-callinfo,X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,X-cisco-monrec,X-cisco-config,X-cisco-sis-7.0.0,X-cisco-xsi-8.5.1
Reason: SIP;cause=200;text="cisco-alarm:23 Name=SEP001122334455 ActiveLoad=sip78xx.12-1-1-12.loads InactiveLoad=sip78xx.10-3-1-12.loads Last=reset-restart"
Expires: 3600
Content-Type: multipart/mixed; boundary=uniqueBoundary
Mime-Version: 1.0
Content-Length: 1313

""" + BODY_B


def render(template: str, *, cm: str, cm_port: int, phone: str, port: int,
           transport: str) -> bytes:
    """Fill in the addresses, use CRLF line ends, and recompute Content-Length."""
    text = template.format(cm=cm, cm_port=cm_port, phone=phone, port=port,
                           T=transport.upper(), t=transport.lower())
    head, _, body = text.partition("\n\n")
    raw_body = body.replace("\n", "\r\n").encode()
    lines = [f"Content-Length: {len(raw_body)}" if line.startswith("Content-Length:") else line
             for line in head.split("\n")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw_body
