"""The `sipProfile` of a SIP phone's config, as CUCM writes it (docs/REAL_WIRE.md §4.1, §4.4).

SIP phones learn their proxies, SIP timers and line buttons here (SCCP phones
get lines over SCCP instead). `sipLines` holds one `line` per DN with featureID 9:
that is the only place a `<line>` element appears in a config, so readers can
find the DNs a phone registers without guessing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.cluster.configs_parts import stable_uuid, text
from harness.cluster.state import PhoneRecord

LINE_FEATURE = 9  # featureID of a DN line button (2 = speed dial)
USE_CM = "USECALLMANAGER"

# sipStack children with CUCM's SIP profile defaults (docs/REAL_WIRE.md §4.4, R25)
SIP_STACK: tuple[tuple[str, object], ...] = (
    ("sipInviteRetx", 6), ("sipRetx", 10), ("timerInviteExpires", 180),
    ("timerRegisterExpires", 3600), ("timerRegisterDelta", 5), ("timerKeepAliveExpires", 120),
    ("timerSubscribeExpires", 120), ("timerSubscribeDelta", 5), ("timerT1", 500),
    ("timerT2", 4000), ("maxRedirects", 70), ("remotePartyID", "true"), ("userInfo", "None"),
)
CALL_FEATURES: tuple[tuple[str, object], ...] = (
    ("cnfJoinEnabled", "true"), ("callForwardURI", "x-cisco-serviceuri-cfwdall"),
    ("callPickupURI", "x-cisco-serviceuri-pickup"),
    ("callPickupListURI", "x-cisco-serviceuri-opickup"),
    ("callPickupGroupURI", "x-cisco-serviceuri-gpickup"),
    ("meetMeServiceURI", "x-cisco-serviceuri-meetme"),
    ("abbreviatedDialURI", "x-cisco-serviceuri-abbrdial"), ("rfc2543Hold", "false"),
    ("callHoldRingback", 2), ("localCfwdEnable", "true"), ("semiAttendedTransfer", "true"),
    ("anonymousCallBlock", 2), ("callerIdBlocking", 2), ("dndControl", 0),
    ("remoteCcEnable", "true"),
)


def sip_profile(root: ET.Element, phone: PhoneRecord, sip_port: int) -> None:
    """`sipProfile`: proxies (all USECALLMANAGER), call features, stack, media, lines."""
    profile = ET.SubElement(root, "sipProfile")
    proxies = ET.SubElement(profile, "sipProxies")
    for kind in ("backupProxy", "emergencyProxy", "outboundProxy"):
        text(proxies, kind, USE_CM)
        text(proxies, f"{kind}Port", sip_port)
    text(proxies, "registerWithProxy", "true")
    features = ET.SubElement(profile, "sipCallFeatures")
    for tag, value in CALL_FEATURES:
        text(features, tag, value)
    stack = ET.SubElement(profile, "sipStack")
    for tag, value in SIP_STACK:
        text(stack, tag, value)
    for tag, value in (("transferOnhookEnabled", "false"), ("enableVad", "false"),
                       ("preferredCodec", "none"), ("dtmfAvtPayload", 101),
                       ("dtmfDbLevel", 3), ("dtmfOutofBand", "avt"), ("kpml", 3),
                       ("phoneLabel", phone.lines[0].dn if phone.lines else ""),
                       ("stutterMsgWaiting", 0), ("callStats", "false"),
                       ("startMediaPort", 16384), ("stopMediaPort", 32766)):
        text(profile, tag, value)
    _lines(ET.SubElement(profile, "sipLines"), phone, sip_port)
    for tag, value in (("externalNumberMask", ""), ("voipControlPort", sip_port),
                       ("dscpForAudio", 184), ("ringSettingBusyStationPolicy", 0),
                       ("dialTemplate", "dialplan.xml"),
                       ("softKeyFile", f"SK{stable_uuid('softkeys', 'Standard User')}.xml"),
                       ("alwaysUsePrimeLine", "false")):
        text(profile, tag, value)


def _lines(sip_lines: ET.Element, phone: PhoneRecord, sip_port: int) -> None:
    """One `line button= lineIndex=` per DN, the children in CUCM's order."""
    for button, line in enumerate(phone.lines, start=1):
        element = ET.SubElement(sip_lines, "line", button=str(button), lineIndex=str(button))
        text(element, "featureID", LINE_FEATURE)
        text(element, "featureLabel", line.label or line.dn)
        text(element, "proxy", USE_CM)
        text(element, "port", sip_port)
        text(element, "name", line.dn)
        text(element, "displayName", line.label or line.dn)
        answer = ET.SubElement(element, "autoAnswer")
        text(answer, "autoAnswerEnabled", 2)
        text(element, "callWaiting", 3)
        text(element, "sharedLine", "false")
        text(element, "messageWaitingLampPolicy", 3)
        text(element, "messagesNumber")
        text(element, "ringSettingIdle", 4)
        text(element, "ringSettingActive", 5)
        text(element, "contact", line.contact or line.dn)
        forward = ET.SubElement(element, "forwardCallInfoDisplay")
        for tag, value in (("callerName", "true"), ("callerNumber", "false"),
                           ("redirectedNumber", "false"), ("dialedNumber", "true")):
            text(forward, tag, value)
        text(element, "maxNumCalls", 4)
        text(element, "busyTrigger", 2)
