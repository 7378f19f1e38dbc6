"""SOAP 1.1 plumbing for the ERP simulator: a hardened parser and document/literal replies."""

import re
import threading

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
RFC_NS = "urn:sap-com:document:sap:rfc:functions"
WSSE_NS = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-wssecurity-secext-1.0.xsd")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class SoapFault(Exception):
    """Answered as a SOAP Fault (HTTP 500); ``code`` is Client or Server."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


_local = threading.local()


def _parser() -> etree.XMLParser:
    """The hardened parser, one per request thread (a parser is not shared between threads;
    building one per call costs more than parsing a small envelope)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, remove_blank_text=True)
    return parser


def parse_request(body: bytes) -> tuple[str, etree._Element, etree._Element | None]:
    """(function name, body element, header element) of a request envelope.

    Any DOCTYPE is refused before parsing, so no entity can ever be declared or expanded.
    """
    if _DOCTYPE.search(body):
        raise SoapFault("Client", "DTD not allowed")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"Malformed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise SoapFault("Client", "DTD not allowed")
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise SoapFault("Client", "Not a SOAP 1.1 envelope")
    body_el = root.find(f"{{{SOAP_NS}}}Body")
    if body_el is None or len(body_el) == 0:
        raise SoapFault("Client", "Empty SOAP body")
    call = body_el[0]
    qname = etree.QName(call)
    if qname.namespace != RFC_NS:
        raise SoapFault("Client", f"Unknown namespace {qname.namespace}")
    return qname.localname, call, root.find(f"{{{SOAP_NS}}}Header")


def child_text(element: etree._Element, name: str) -> str | None:
    """Text of an unqualified child element (None when absent)."""
    found = element.find(name)
    if found is None:
        return None
    return found.text or ""


def structure(element: etree._Element, name: str) -> dict[str, str]:
    """An unqualified structure parameter as {FIELD: text}."""
    found = element.find(name)
    if found is None:
        return {}
    return {etree.QName(child).localname: (child.text or "") for child in found}


def table(element: etree._Element, name: str) -> list[dict[str, str]]:
    """A table parameter (wrapper of ``<item>`` rows) as a list of {FIELD: text}."""
    found = element.find(name)
    if found is None:
        return []
    return [{etree.QName(child).localname: (child.text or "") for child in row}
            for row in found if etree.QName(row).localname == "item"]


def username_token(header: etree._Element | None) -> tuple[str, str] | None:
    """(user, password) of a WS-Security UsernameToken (PasswordText), if any."""
    if header is None:
        return None
    token = header.find(f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        return None
    return (token.findtext(f"{{{WSSE_NS}}}Username") or "",
            token.findtext(f"{{{WSSE_NS}}}Password") or "")


def _envelope() -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap-env": SOAP_NS})
    return env, etree.SubElement(env, f"{{{SOAP_NS}}}Body")


def _append(parent: etree._Element, name: str, value) -> None:
    if value is None:
        return
    if isinstance(value, list):  # a table: one <item> per row
        table = etree.SubElement(parent, name)
        for row in value:
            _append_struct(etree.SubElement(table, "item"), row)
    elif isinstance(value, dict):
        _append_struct(etree.SubElement(parent, name), value)
    else:
        etree.SubElement(parent, name).text = str(value)


def _append_struct(parent: etree._Element, row: dict) -> None:
    for key, value in row.items():
        _append(parent, key, value)


def response(function: str, values: dict) -> bytes:
    """A document/literal ``<FM>Response`` with unqualified children, in the given order.

    Written as text (every call of every worker goes through here); a value with characters
    that need more than the three entity escapes (control characters, CR) is serialised by
    lxml instead, which also refuses what XML cannot carry. Both give the same bytes.
    """
    inner: list[str] = []
    if not values or not all(_write(inner, name, value) for name, value in values.items()):
        return _response_tree(function, values)
    return (f'{_XML_DECLARATION}<soap-env:Envelope xmlns:soap-env="{SOAP_NS}"><soap-env:Body>'
            f'<n0:{function}Response xmlns:n0="{RFC_NS}">{"".join(inner)}'
            f"</n0:{function}Response></soap-env:Body></soap-env:Envelope>").encode()


_XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
# Text lxml writes otherwise than with &amp; &lt; &gt; (CR as &#13;) or refuses.
_NOT_PLAIN = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def _write(parts: list[str], name: str, value) -> bool:
    """Append ``<name>…</name>`` as ``_append`` builds it; False at text only lxml may write."""
    if value is None:
        return True
    if isinstance(value, list | dict):  # a table (one <item> per row) or a structure
        inner: list[str] = []
        children = [("item", row) for row in value] if isinstance(value, list) else value.items()
        if not all(_write(inner, key, child) for key, child in children):
            return False
        parts.append(f"<{name}>{''.join(inner)}</{name}>" if inner else f"<{name}/>")
        return True
    text = str(value)
    if _NOT_PLAIN.search(text):
        return False
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts.append(f"<{name}>{text}</{name}>")
    return True


def _response_tree(function: str, values: dict) -> bytes:
    """``response`` built as an lxml tree (any value lxml accepts)."""
    env, body = _envelope()
    reply = etree.SubElement(body, f"{{{RFC_NS}}}{function}Response", nsmap={"n0": RFC_NS})
    _append_struct(reply, values)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault(code: str, message: str) -> bytes:
    env, body = _envelope()
    fault_el = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault_el, "faultcode").text = f"soap-env:{code}"
    etree.SubElement(fault_el, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def bapiret2(kind: str, msg_id: str, number: str, message: str, **extra) -> dict:
    """One RETURN row (BAPIRET2) in field order."""
    row = {"TYPE": kind, "ID": msg_id, "NUMBER": number, "MESSAGE": message[:220]}
    for key in ("MESSAGE_V1", "MESSAGE_V2", "PARAMETER", "ROW", "FIELD"):
        if key in extra:
            row[key] = extra[key]
    return row
