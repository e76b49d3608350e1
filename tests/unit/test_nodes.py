import json

import pytest

from pacsadmin.core.errors import DuplicateNode, NodeNotFound, ValidationError
from pacsadmin.core.node_exchange import export_csv, export_json, parse_node_list
from pacsadmin.core.nodes import (
    DicomNode,
    NodeDirectory,
    NodeTimeouts,
    TlsSettings,
    parse_target,
    validate_ae_title,
    validate_port,
)


def import_text(d, text, fmt, **kw):
    return d.import_nodes(parse_node_list(text, fmt), **kw)


def node(name="PACS", **kw):
    base = dict(name=name, ae_title="PACS_AE", host="10.0.0.5", port=104)
    base.update(kw)
    return DicomNode(**base)


@pytest.mark.parametrize("aet", ["A", "PACSADMIN", "X" * 16, "CT 1", "  PACS  "])
def test_valid_ae_titles(aet):
    assert validate_ae_title(aet) == aet.strip()


@pytest.mark.parametrize(
    "aet, fragment",
    [
        ("X" * 17, "at most 16"),
        ("", "empty"),
        ("    ", "empty"),
        ("PA\\CS", "backslash"),
        ("PA\tCS", "control"),
        ("PACS\n", "control"),
        ("PÄCS", "ASCII"),
    ],
)
def test_invalid_ae_titles_say_why(aet, fragment):
    with pytest.raises(ValidationError) as ei:
        validate_ae_title(aet)
    assert fragment in str(ei.value)
    assert ei.value.field == "ae_title"


@pytest.mark.parametrize("port", [0, 65536, 70000, -1, "abc", 1.5, True])
def test_invalid_ports(port):
    with pytest.raises(ValidationError) as ei:
        validate_port(port)
    assert ei.value.field == "port"


def test_port_bounds_and_text():
    assert validate_port(1) == 1
    assert validate_port(65535) == 65535
    assert validate_port(" 104 ") == 104


def test_node_validation_names_the_field():
    with pytest.raises(ValidationError) as ei:
        node(port=70000).validated()
    assert ei.value.field == "port"
    with pytest.raises(ValidationError) as ei:
        node(host="has space").validated()
    assert ei.value.field == "host"
    with pytest.raises(ValidationError) as ei:
        node(retrieve_method="C-FETCH").validated()
    assert ei.value.field == "retrieve_method"
    with pytest.raises(ValidationError) as ei:
        node(tls=TlsSettings(enabled=True, client_key="/k.pem")).validated()
    assert ei.value.field == "tls_client_cert"
    with pytest.raises(ValidationError) as ei:
        node(timeouts=NodeTimeouts(connect=-1)).validated()
    assert ei.value.field == "timeout_connect"


def test_unresolvable_host_is_allowed_at_save(tmp_path):
    d = NodeDirectory(tmp_path / "nodes.json")
    d.add(node(host="no-such-host.invalid"))
    assert d.get("pacs").host == "no-such-host.invalid"


def test_parse_target():
    n = parse_target("STORESCP@127.0.0.1:11112")
    assert (n.ae_title, n.host, n.port) == ("STORESCP", "127.0.0.1", 11112)
    v6 = parse_target("X@[::1]:104")
    assert v6.host == "::1" and v6.address == "X@[::1]:104"
    assert parse_target("just-a-name") is None
    with pytest.raises(ValidationError):
        parse_target("A@host:70000")


def test_directory_crud_persists_and_is_case_insensitive(tmp_path):
    path = tmp_path / "nodes.json"
    d = NodeDirectory(path)
    d.add(node("Main PACS", site="HQ", tags=("prod", "prod", " qa ")))
    with pytest.raises(DuplicateNode):
        d.add(node("main pacs"))
    d.update("MAIN PACS", node("Main PACS 2", port=11112))
    again = NodeDirectory(path)
    assert [n.name for n in again.list()] == ["Main PACS 2"]
    assert again.get("main pacs 2").port == 11112
    assert d.unique_name("Main PACS 2") == "Main PACS 2 (copy)"
    again.remove("Main PACS 2")
    with pytest.raises(NodeNotFound):
        again.get("Main PACS 2")
    assert NodeDirectory(path).list() == []


def test_tags_are_normalised(tmp_path):
    d = NodeDirectory(tmp_path / "n.json")
    n = d.add(node(tags=("b", "a", " a ", "")))
    assert n.tags == ("a", "b")


def test_json_roundtrip_and_no_secret_fields(tmp_path):
    d = NodeDirectory(tmp_path / "n.json")
    d.add(
        node(
            tls=TlsSettings(
                enabled=True, ca_bundle="/ca.pem", client_cert="/c.pem", client_key="/k.pem"
            )
        )
    )
    text = export_json(d.list())
    assert "passphrase" not in text.lower() and "password" not in text.lower()
    d2 = NodeDirectory(tmp_path / "n2.json")
    rep = import_text(d2, text, "json")
    assert rep.added == ("PACS",) and not rep.errors
    assert d2.get("PACS") == d.get("PACS")


def test_csv_roundtrip(tmp_path):
    d = NodeDirectory(tmp_path / "n.json")
    d.add(
        node(
            "A",
            site="S1",
            tags=("x", "y"),
            timeouts=NodeTimeouts(connect=2.5),
            max_pdu=32768,
            retrieve_method="C-GET",
            query_charset="ISO_IR 192",
        )
    )
    d.add(node("B", calling_ae_title="ME"))
    csv_text = export_csv(d.list())
    d2 = NodeDirectory(tmp_path / "n2.json")
    rep = import_text(d2, csv_text, "csv")
    assert sorted(rep.added) == ["A", "B"]
    assert d2.get("A") == d.get("A") and d2.get("B") == d.get("B")


def test_import_reports_bad_rows_and_keeps_good_ones(tmp_path):
    d = NodeDirectory(tmp_path / "n.json")
    csv_text = (
        "name,ae_title,host,port\n"
        "good,GOOD,10.0.0.1,104\n"
        "toolong,ABCDEFGHIJKLMNOPQ,10.0.0.2,104\n"
        "badport,X,10.0.0.3,70000\n"
    )
    rep = import_text(d, csv_text, "csv")
    assert rep.added == ("good",)
    assert len(rep.errors) == 2
    assert "row 3" in rep.errors[0] and "16" in rep.errors[0]
    assert "row 4" in rep.errors[1] and "65535" in rep.errors[1]
    rep2 = import_text(d, csv_text, "csv")
    assert rep2.skipped == ("good",)
    rep3 = import_text(d, csv_text, "csv", replace_existing=True)
    assert rep3.replaced == ("good",)


def test_import_rejects_unusable_files(tmp_path):
    from pacsadmin.core.errors import PacsAdminError

    with pytest.raises(PacsAdminError, match="not valid JSON"):
        parse_node_list("{", "json")
    with pytest.raises(PacsAdminError, match="lacks the column"):
        parse_node_list("a,b\n1,2\n", "csv")


def test_corrupt_directory_file_gives_a_clear_error(tmp_path):
    from pacsadmin.core.errors import PacsAdminError

    p = tmp_path / "nodes.json"
    p.write_text("{not json")
    with pytest.raises(PacsAdminError, match="damaged at line 1, column 2"):
        NodeDirectory(p)


def test_directory_file_is_valid_json_with_schema(tmp_path):
    p = tmp_path / "nodes.json"
    NodeDirectory(p).add(node())
    data = json.loads(p.read_text())
    assert data["schema_version"] == 1 and data["nodes"][0]["ae_title"] == "PACS_AE"
