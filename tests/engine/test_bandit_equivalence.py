"""The bandit bridge reports exactly what the real ``bandit -f json`` reports, file for file.

The bridge runs bandit's per-file step in-process with the work nobody reads left out (metrics,
score sums, a tokenize of files without ``nosec``, a second parse, visits of node types no test
looks at); these tests pin that nothing bandit reports changed: the same issues (code, line,
column, end column, line range, severity, confidence, text) on stdlib modules chosen to trigger
many different checks and on written files covering every other check and ``# nosec`` forms.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import sysconfig
import tokenize
from collections import Counter
from pathlib import Path

import pytest

from wsrefactor import bandit_bridge
from wsrefactor.bandit_bridge import bandit_findings, bandit_issues
from wsrefactor.compat import bandit as compat_bandit
from wsrefactor.selection import Selection
from wsrefactor.source import decode, read_bytes

pytest.importorskip("bandit")

# Chosen (greedily, small first) so that together they trigger every check bandit finds in the
# standard library: B101-B112, B202, B3xx/B4xx blacklists, B324, B602-B608 and more.
STDLIB = (
    "asyncio/windows_utils.py", "_bootsubprocess.py", "idlelib/debugobj.py", "xml/etree/cElementTree.py",
    "lib2to3/pgen2/grammar.py", "xml/dom/pulldom.py", "distutils/command/upload.py",
    "distutils/cygwinccompiler.py", "turtledemo/forest.py", "xml/dom/domreg.py", "sqlite3/dump.py",
    "multiprocessing/sharedctypes.py", "asyncio/base_subprocess.py", "multiprocessing/heap.py",
    "xml/dom/xmlbuilder.py", "poplib.py", "idlelib/rpc.py", "venv/__init__.py", "xml/dom/minidom.py",
    "multiprocessing/connection.py", "ftplib.py", "socket.py", "urllib/request.py", "shutil.py",
    "subprocess.py", "tempfile.py", "pickle.py", "http/server.py", "smtplib.py", "random.py",
)

NOSEC = '''\
import subprocess  # nosec B404
import pickle  # nosec
import telnetlib  # nosec B101
from xml.etree import ElementTree  # nosec: B405
import marshal  #nosec:B403


def run(cmd, data, password="hunter2"):  # nosec B107
    assert cmd  # nosec B101
    assert data  # nosec B101, B102
    assert data  # nosec assert_used
    assert data  #nosec:B101
    assert data  # noqa: S101 # nosec
    assert data  # nosec B999
    assert data  # nosec B102
    assert data  # NOSEC
    assert data  # no-sec
    subprocess.call(cmd, shell=True)  # nosec B602
    subprocess.call("ls -l", shell=True)  # nosec B602, B607
    subprocess.call("ls -l", shell=True)  # nosec B607
    subprocess.call(  # nosec B602
        cmd,
        shell=True,
    )
    subprocess.call(
        cmd,
        shell=True,  # nosec
    )
    subprocess.call(
        cmd, shell=True
    )  # nosec B602
    exec(data)  # nosec B102 # another comment
    eval(data)  # nosec: B307, B102
    x = pickle.loads(data)  # nosec B301 B403
    y = marshal.loads(data)  # nosec blacklist
    try:
        telnetlib.Telnet("host")  # nosec B312
    except Exception:  # nosec
        pass
    try:
        ElementTree.fromstring(data)
    except Exception:  # nosec B110
        pass
    password = "s3cr3t"  # nosec B105
    token = "s3cr3t"  # nosec   trailing words
    tmp = "/tmp/x"  # nosec B108
    host = "0.0.0.0"  # nosec B104
    return x, y, token, tmp, host
'''

NOSEC_IN_STRINGS = '''\
import subprocess

HELP = "silence a finding with # nosec"
DOC = """
    # nosec
    assert nothing  # nosec B101
"""


def run(cmd):
    subprocess.call(cmd, shell=True); s = "# nosec"
    assert cmd, "# nosec B101"
    q = """# nosec"""; assert q
    r = f"{cmd} # nosec"; eval(r)
    return s
'''

MANY_CHECKS = '''\
import hashlib
import logging.config
import os
import ssl
import tarfile

import flask
import jinja2
import paramiko
import requests
import torch
import yaml
from Crypto.PublicKey import DSA
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db.models.expressions import RawSQL
from django.utils.safestring import mark_safe
from mako.template import Template
from markupsafe import Markup
from pysnmp.hlapi import CommunityData, UsmUserData
from transformers import AutoModel


def f(url, data, path, user, client, cmd, ssl_version=ssl.PROTOCOL_SSLv2, password="pw"):
    requests.get(url)
    requests.get(url, verify=False, timeout=5)
    connect(user=user, password="secret")
    app = flask.Flask(__name__)
    app.run(debug=True)
    ssl.wrap_socket(ssl_version=ssl.PROTOCOL_SSLv2)
    ssl.wrap_socket()
    rsa.generate_private_key(public_exponent=65537, key_size=1024)
    DSA.generate(512)
    yaml.load(data)
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    CommunityData("public", mpModel=0)
    UsmUserData("securityName")
    client.exec_command(cmd)
    os.system("chown root *")
    user.objects.extra(where=[data])
    RawSQL(data)
    logging.config.listen(9999)
    torch.load(path)
    AutoModel.from_pretrained("org/model")
    jinja2.Environment(loader=None)
    Template("hello")
    mark_safe(data)
    Markup(data)
    tarfile.open(path).extractall()
    hashlib.md5(data)
    hashlib.new("sha1", data)
    os.chmod(path, 0o777)
    os.popen(cmd)
    os.execl(path, cmd)
    input(data)
    ssl._create_unverified_context()
    query = "SELECT * FROM t WHERE id = %s" % data
    while data:
        try:
            data = data[1:]
        except ValueError:
            continue
    return query
'''

BIDI = 'access_level = "user"\nif access_level != "none\u202e \u2066# Check if admin\u2069 \u2066":  # nosec B105\n    print("admin")\n'
BIDI_NOSEC = 'x = "\u202e"  # nosec B613\neval(x)\n'
LATIN1 = '# -*- coding: latin-1 -*-\nnom = "\xe9t\xe9"; eval(nom); assert nom\n'
UTF8_BOM = 'name = "\u00e9t\u00e9"; eval(name)\nassert name\n'
BROKEN = "def f(:\n    eval(x)\n"


def _written(tmp_path: Path) -> list[str]:
    files = {
        "nosec_cases.py": NOSEC.encode(),
        "nosec_in_strings.py": NOSEC_IN_STRINGS.encode(),
        "many_checks.py": MANY_CHECKS.encode(),
        "bidi.py": BIDI.encode(),
        "bidi_nosec.py": BIDI_NOSEC.encode(),
        "latin1.py": LATIN1.encode("latin-1"),
        "utf8_bom.py": UTF8_BOM.encode("utf-8-sig"),
        "two_boms.py": ("\ufeff" + UTF8_BOM).encode("utf-8-sig"),  # a syntax error after one BOM
        "broken.py": BROKEN.encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [str(tmp_path / name) for name in files]


def _stdlib() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return [str(root / name) for name in STDLIB if (root / name).is_file()]


def _cli_issues(paths: list[str], cwd: Path) -> tuple[list[dict], list[str]]:
    out = cwd / "bandit.json"
    subprocess.run(
        [sys.executable, "-m", "bandit", "-f", "json", "-o", str(out), "-q", *paths],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )
    data = json.loads(out.read_text())
    return data["results"], [e["filename"] for e in data["errors"]]


def _key(path, code, line, col, end_col, linerange, severity, confidence, text):
    return (path, code, line, col, end_col, tuple(linerange), severity, confidence, text)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bandit_eq")
    paths = _stdlib() + _written(tmp_path)
    results, errors = _cli_issues(paths, tmp_path)
    texts = {p: decode(p, read_bytes(p)).text for p in paths}
    return paths, texts, results, errors


def test_same_issues_as_the_bandit_cli(corpus):
    paths, texts, results, errors = corpus
    assert len(paths) > 30 and set(errors) == {p for p in paths if p.endswith(("broken.py", "two_boms.py"))}
    expected = Counter(
        _key(r["filename"], r["test_id"], r["line_number"], r["col_offset"], r["end_col_offset"],
             r["line_range"], r["issue_severity"], r["issue_confidence"], r["issue_text"])
        for r in results
    )
    got = Counter(
        _key(p, i.test_id, i.lineno, i.col_offset, i.end_col_offset, i.linerange, i.severity, i.confidence, i.text)
        for p in paths for i in bandit_issues(p, texts[p])
    )
    assert got == expected
    # and the test set is worth something: most of bandit's checks fire, nosec included
    codes = {r["test_id"] for r in results}
    assert len(codes) >= 60 and {"B613", "B602", "B101", "B404"} <= codes


def test_findings_are_the_cli_code_line_column_set(corpus):
    paths, texts, results, _ = corpus
    expected = Counter((r["filename"], r["test_id"], r["line_number"], r["col_offset"] + 1) for r in results)
    everything = Selection(("ALL",))
    got = Counter((p, f.code, f.line, f.column) for p in paths for f in bandit_findings(p, texts[p], everything))
    assert got == expected


def test_nosec_cases_suppress_what_bandit_suppresses(corpus):
    paths, texts, results, _ = corpus
    by_file = {Path(p).name: p for p in paths}
    lines = {(r["test_id"], r["line_number"]) for r in results if r["filename"] == by_file["nosec_cases.py"]}
    assert ("B404", 1) not in lines and ("B403", 2) not in lines and ("B401", 3) in lines
    # by code, by name, unknown code (= blanket), other code, upper case (no nosec for bandit)
    assert not {("B101", 9), ("B101", 11), ("B101", 14)} & lines and {("B101", 15), ("B101", 16)} <= lines
    assert ("B602", 20) in lines and not any(line in (19, 21, 25, 29) for _, line in lines)
    # nosec words inside string literals are no comments: nothing there is suppressed
    in_strings = {(r["test_id"], r["line_number"]) for r in results if r["filename"] == by_file["nosec_in_strings.py"]}
    assert {("B602", 11), ("B101", 12), ("B101", 13), ("B307", 14)} <= in_strings


def test_a_given_tree_gives_the_same_findings(corpus):
    paths, texts, _, _ = corpus
    everything = Selection(("ALL",))
    for p in paths:
        try:
            tree = ast.parse(texts[p])
        except SyntaxError:
            continue
        assert bandit_findings(p, texts[p], everything, tree) == bandit_findings(p, texts[p], everything), p


def test_pre_visit_builds_banditsame_context(corpus):
    """The visitor's pre_visit (without debug logging) builds bandit's context, key for key."""
    from bandit.core import metrics, node_visitor

    paths, texts, _, _ = corpus
    path = next(p for p in paths if p.endswith("many_checks.py"))
    manager = compat_bandit.manager()
    fdata = io.BytesIO()
    ours = bandit_bridge._visitor_class()(path, fdata, manager.b_ma, manager.b_ts, {})
    theirs = node_visitor.BanditNodeVisitor(path, fdata, manager.b_ma, manager.b_ts, False, {}, metrics.Metrics())
    for node in ast.walk(ast.parse(texts[path])):
        ours.imports, theirs.imports = {"a"}, {"a"}
        ours.pre_visit(node)
        theirs.pre_visit(node)
        assert list(ours.context.items()) == list(theirs.context.items())
        assert ours.context["imports"] is ours.imports and ours.context["import_aliases"] is ours.import_aliases


def test_nosec_map_is_banditsame_and_skipped_without_nosec():
    from bandit.core.manager import _parse_nosec_comment

    text = NOSEC + "# plain comment\n"
    data = text.encode()
    expected = {
        start[0]: _parse_nosec_comment(value)
        for kind, value, start, _, _ in tokenize.tokenize(io.BytesIO(data).readline) if kind == tokenize.COMMENT
    }
    assert bandit_bridge._nosec_lines(text, data) == expected
    plain = MANY_CHECKS + "# a comment\n"
    assert bandit_bridge._nosec_lines(plain, plain.encode()) == {}


def test_trojansource_is_left_out_only_for_text_without_its_characters():
    lean, bidi = bandit_bridge._bidi_free_tests()
    full = compat_bandit.manager().b_ts
    assert bidi and [t._test_id for t in full.get_tests("File")] == ["B613"] and lean.get_tests("File") == []
    assert {k: v for k, v in lean.tests.items() if k != "File"} == {k: v for k, v in full.tests.items() if k != "File"}
    assert bandit_bridge._tests_for(BIDI) is full and bandit_bridge._tests_for(MANY_CHECKS) is lean


def test_source_bytes_follow_the_coding_cookie():
    assert bandit_bridge._source_bytes(LATIN1) == LATIN1.encode("latin-1")
    assert bandit_bridge._source_bytes(UTF8_BOM) == UTF8_BOM.encode()
    assert bandit_bridge._source_bytes("x = 1\n") == b"x = 1\n"


def test_every_node_gets_banditsame_parent_and_sibling_links(corpus):
    """Nodes the walk does not enter still get bandit's links (plugins climb ``_bandit_parent``)."""
    from bandit.core import metrics, node_visitor

    paths, texts, _, _ = corpus
    path = next(p for p in paths if p.endswith("many_checks.py"))
    manager = compat_bandit.manager()

    def links(tree):
        index = {id(node): i for i, node in enumerate(ast.walk(tree))}
        return [
            (index.get(id(getattr(node, "_bandit_parent", None))), index.get(id(getattr(node, "_bandit_sibling", None))),
             hasattr(node, "_bandit_sibling"))
            for node in ast.walk(tree)
        ]

    # one at a time: trees share the ast.Load/Store singletons, whose links the last walk sets
    ours = ast.parse(texts[path])
    bandit_bridge._visitor_class()(path, io.BytesIO(), manager.b_ma, manager.b_ts, {}).run(ours)
    our_links = links(ours)
    theirs = ast.parse(texts[path])
    node_visitor.BanditNodeVisitor(path, io.BytesIO(), manager.b_ma, manager.b_ts, False, {}, metrics.Metrics()).generic_visit(theirs)
    assert our_links == links(theirs)
