"""Bank packages (题库包): format skillcert-bank/1, as described in docs/bank-package.md.

Each test reads as one rule of the format: what a station accepts, and what it refuses and
with which message.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from question_bank import package, signing
from question_bank.blueprint import Blueprint, Cell, KnowledgePoint, Scope, Section
from question_bank.errors import PackageError
from question_bank.items import (
    BankContent,
    Criterion,
    Importance,
    Item,
    ItemType,
    Option,
    Task,
)
from question_bank.package_crypto import CROCKFORD, b64u, recipient_id

CREATED = "2026-03-01T08:00:00Z"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- fixtures ----------------------------------------------------------------------------------


def _single(uid: str, kp: str, answer: str = "B") -> Item:
    return Item(
        uid=uid,
        type=ItemType.SINGLE_CHOICE,
        stem=f"<p>{uid}：工业机器人示教器上急停按钮的作用是？</p>",
        answer=(answer,),
        options=tuple(Option(k, f"选项{k}") for k in "ABCD"),
        knowledge_point=kp,
        importance=Importance.X,
        difficulty=0.4,
        explanation="<p>急停按钮切断伺服电源。</p>",
    )


def _multiple(uid: str, kp: str) -> Item:
    return Item(
        uid=uid,
        type=ItemType.MULTIPLE_CHOICE,
        stem=f'<p>{uid}：以下哪些属于安全防护装置？<img src="media/guard.png" alt="防护"></p>',
        answer=("A", "C"),
        options=(Option("A", "安全光栅"), Option("B", "示教器"), Option("C", "安全门锁", 50.0)),
        knowledge_point=kp,
        importance=Importance.Y,
        tags=("安全",),
    )


def _true_false(uid: str, kp: str, answer: str = "T") -> Item:
    return Item(
        uid=uid,
        type=ItemType.TRUE_FALSE,
        stem=f"<p>{uid}：进入机器人工作区域前必须切断电源。</p>",
        answer=(answer,),
        options=(Option("T", "正确"), Option("F", "错误")),
        knowledge_point=kp,
        importance=Importance.Z,
    )


def make_content() -> BankContent:
    items = [
        _single("SC-001", "A01"),
        _single("SC-002", "A02", "D"),
        _multiple("MC-001", "A01"),
        _multiple("MC-002", "B01"),
        _true_false("TF-001", "A02"),
        _true_false("TF-002", "B01", "F"),
    ]
    task = Task(
        uid="PT-001",
        title="工业机器人工具坐标系标定",
        instructions="<p>使用四点法完成工具坐标系标定，并验证精度。</p>",
        criteria=(
            Criterion("C1", "正确选择标定方法", 20),
            Criterion("C2", "标定误差不超过 1 mm", 60),
            Criterion("C3", "操作规范、工位整洁", 20),
            Criterion("V1", "未确认安全即进入工作区域", 0, veto=True),
        ),
        duration_minutes=60,
        knowledge_point="B01",
        importance=Importance.X,
        equipment="六轴工业机器人一台",
    )
    blueprint = Blueprint(
        name="理论知识（中级）",
        title="工业机器人应用编程 中级 理论知识鉴定要素细目表",
        scopes=[Scope("A", "安全"), Scope("B", "编程")],
        knowledge_points=[
            KnowledgePoint("A01", "急停", "A", Importance.X, 40),
            KnowledgePoint("A02", "断电", "A", Importance.Y, 30),
            KnowledgePoint("B01", "坐标系", "B", Importance.Z, 30),
        ],
        sections=[
            Section(ItemType.SINGLE_CHOICE, 30),
            Section(ItemType.MULTIPLE_CHOICE, 20),
            Section(ItemType.TRUE_FALSE, 15),
        ],
        cells=[
            Cell("A", ItemType.SINGLE_CHOICE, 1),
            Cell("A", ItemType.MULTIPLE_CHOICE, 1),
            Cell("B", ItemType.TRUE_FALSE, 2),
        ],
    )
    return BankContent(
        items=items,
        tasks=[task],
        blueprints=[blueprint],
        media={"media/guard.png": PNG, "media/docs/说明.txt": "四点法".encode()},
    )


def make_meta(**changes) -> dict:
    meta = {
        "bank": "IRAP-M",
        "name": "工业机器人应用编程（中级）",
        "programme": {"code": "IRAP", "name": "工业机器人应用编程"},
        "occupation": "工业机器人系统操作员",
        "direction": "应用编程",
        "level": "中级",
        "version": 3,
        "issuer": {"code": "ORG-0001", "name": "示例培训评价组织"},
        "created_at": CREATED,
    }
    return meta | changes


@pytest.fixture(scope="module")
def issuer() -> signing.IssuerKey:
    return signing.IssuerKey.generate("issuer-2026")


@pytest.fixture(scope="module")
def trusted(issuer) -> signing.TrustedIssuers:
    return signing.TrustedIssuers.from_pems({issuer.kid: issuer.public_pem()})


@pytest.fixture(scope="module")
def plain(issuer) -> bytes:
    data, key = package.build_package(make_content(), manifest_meta=make_meta(), key=issuer)
    assert key is None
    return data


@pytest.fixture(scope="module")
def locked(issuer) -> tuple[bytes, bytes]:
    data, key = package.build_package(
        make_content(), manifest_meta=make_meta(), key=issuer, encrypt=True
    )
    return data, key


# --- helpers: take a package apart and put it back together ----------------------------------


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def zip_of(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, blob in files:
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, blob)
    return buffer.getvalue()


def rewrite(data: bytes, *, replace=None, remove=(), add=(), resign=None, edit=None) -> bytes:
    """Change entries; with ``resign`` (an IssuerKey), update the manifest's hashes, apply
    ``edit(manifest_dict)`` and sign it again: a forgery only a key holder could make."""
    files = entries(data)
    files.update(replace or {})
    for name in remove:
        files.pop(name)
    if resign is not None:
        manifest = json.loads(files["manifest.json"])
        for name, blob in files.items():
            if name in manifest["files"]:
                manifest["files"][name]["sha256"] = sha256(blob)
                manifest["files"][name]["size"] = len(blob)
        if edit:
            edit(manifest)
        raw = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2).encode()
        envelope = {
            "alg": "Ed25519",
            "kid": resign.kid,
            "sig": b64u(resign.sign(raw)),
        }
        files["manifest.json"], files["manifest.sig"] = raw, json.dumps(envelope).encode()
    return zip_of(list(files.items()) + list(add))


def refused(data: bytes, trusted, match: str, **limits) -> PackageError:
    with pytest.raises(PackageError, match=match) as info:
        package.open_package(data, trusted=trusted, **limits)
    return info.value


# --- round trips -------------------------------------------------------------------------------


def test_plain_round_trip(plain, trusted, issuer):
    opened = package.open_package(plain, trusted=trusted)
    assert not opened.encrypted
    assert opened.kid == "issuer-2026"
    content = opened.content()
    original = make_content()
    assert [i.to_dict() for i in content.items] == [i.to_dict() for i in original.items]
    assert [t.to_dict() for t in content.tasks] == [t.to_dict() for t in original.tasks]
    assert content.tasks[0].criteria[-1].veto is True
    assert content.tasks[0].max_points == 100
    assert [b.to_dict() for b in content.blueprints] == [b.to_dict() for b in original.blueprints]
    assert content.media == original.media
    assert content.format == "package"
    assert content.meta["bank"] == "IRAP-M" and content.meta["version"] == 3
    assert content.meta["programme"] == {"code": "IRAP", "name": "工业机器人应用编程"}
    assert content.meta["issuer"]["code"] == "ORG-0001"
    assert content.meta["level"] == "中级"
    assert "files" not in content.meta


def test_manifest_describes_the_package(plain, trusted):
    manifest = package.open_package(plain, trusted=trusted).manifest
    assert manifest.format == "skillcert-bank/1"
    assert (manifest.bank, manifest.version, manifest.level) == ("IRAP-M", 3, "中级")
    assert manifest.occupation == "工业机器人系统操作员" and manifest.direction == "应用编程"
    assert manifest.created_at == CREATED
    assert manifest.counts == {
        "single_choice": 2,
        "multiple_choice": 2,
        "true_false": 2,
        "tasks": 1,
        "blueprints": 1,
        "media": 2,
    }
    assert set(manifest.files) == {"content.json", "media/guard.png", "media/docs/说明.txt"}
    assert manifest.files["media/guard.png"].size == len(PNG)
    names = list(entries(plain))
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert names[2:] == sorted(names[2:])
    envelope = json.loads(entries(plain)["manifest.sig"])
    assert envelope["alg"] == "Ed25519" and envelope["kid"] == "issuer-2026"
    assert json.loads(json.dumps(manifest.to_dict())) == json.loads(entries(plain)["manifest.json"])


def test_encrypted_round_trip(locked, trusted):
    data, key = locked
    assert len(key) == 32
    opened = package.open_package(data, trusted=trusted)
    assert opened.encrypted
    code = package.release_code_for(key)
    content = opened.content(package.parse_release_code(code))
    assert [i.to_dict() for i in content.items] == [i.to_dict() for i in make_content().items]
    assert content.media == make_content().media
    assert content.meta["encrypted"] is True


def test_encrypted_package_hides_content_but_manifest_hashes_ciphertext(locked, trusted):
    data, _ = locked
    files = entries(data)
    assert "急停".encode() not in files["content.json"]
    assert files["media/guard.png"] != PNG
    manifest = package.open_package(data, trusted=trusted).manifest
    assert manifest.files["content.json"].sha256 == sha256(files["content.json"])
    assert manifest.encryption["cipher"] == "AES-256-GCM"
    assert all(entry.nonce for entry in manifest.files.values())


def test_locked_package_refuses_content_without_key_but_manifest_is_readable(locked, trusted):
    data, _ = locked
    opened = package.open_package(data, trusted=trusted)
    assert opened.manifest.counts["single_choice"] == 2
    assert opened.manifest.programme["name"] == "工业机器人应用编程"
    with pytest.raises(PackageError, match="题库包 IRAP-M 版本 3 已加密，需要解锁码"):
        opened.content()
    unverified = package.read_manifest_unverified(data)
    assert unverified.bank == "IRAP-M" and unverified.encrypted


def test_builds_are_deterministic(issuer, plain):
    again, _ = package.build_package(make_content(), manifest_meta=make_meta(), key=issuer)
    assert again == plain
    later, _ = package.build_package(
        make_content(), manifest_meta=make_meta(created_at="2026-03-02T08:00:00+08:00"), key=issuer
    )
    assert later != plain
    assert package.read_manifest_unverified(later).created_at == "2026-03-02T00:00:00Z"


def test_reopened_meta_can_build_the_next_version(plain, trusted, issuer):
    content = package.open_package(plain, trusted=trusted).content()
    meta = dict(content.meta, version=4, note="补充两道题")
    data, _ = package.build_package(content, manifest_meta=meta, key=issuer)
    manifest = package.open_package(data, trusted=trusted).manifest
    assert manifest.version == 4 and manifest.extra == {"note": "补充两道题"}


# --- what is refused ---------------------------------------------------------------------------


def test_tampered_item_is_refused(plain, trusted):
    content = json.loads(entries(plain)["content.json"])
    content["items"][0]["answer"] = ["A"]
    forged = rewrite(plain, replace={"content.json": json.dumps(content).encode()})
    refused(forged, trusted, "文件 content.json 与清单中的校验值不符")


def test_tampered_media_is_refused(plain, trusted):
    forged = rewrite(plain, replace={"media/guard.png": PNG + b"!"})
    refused(forged, trusted, r"media/guard.png .*\(sha256 mismatch\)")


def test_tampered_manifest_is_refused(plain, trusted):
    manifest = entries(plain)["manifest.json"].replace("中级".encode(), "高级".encode())
    forged = rewrite(plain, replace={"manifest.json": manifest})
    refused(
        forged, trusted, r"签名无效：manifest.sig 与发布机构密钥 issuer-2026 不符 \(bad signature\)"
    )


def test_signature_from_another_package_is_refused(plain, trusted, issuer):
    other, _ = package.build_package(make_content(), manifest_meta=make_meta(version=4), key=issuer)
    forged = rewrite(plain, replace={"manifest.sig": entries(other)["manifest.sig"]})
    refused(forged, trusted, "签名无效")


def test_unknown_key_id_is_refused(plain, issuer):
    others = signing.TrustedIssuers.from_pems(
        {"issuer-2025": signing.IssuerKey.generate().public_pem()}
    )
    refused(plain, others, r"未知的发布机构密钥 issuer-2026.*\(unknown key id\)")


def test_another_key_under_a_trusted_kid_is_refused(plain, trusted):
    impostor = signing.IssuerKey.generate("issuer-2026")
    forged = rewrite(plain, resign=impostor, edit=lambda m: m.update(level="高级"))
    refused(forged, trusted, "签名无效")


def test_key_may_only_sign_for_its_issuer(plain, issuer):
    bound = signing.TrustedIssuers.from_pems(
        {issuer.kid: {"pem": issuer.public_pem(), "issuer_code": "ORG-0002"}}
    )
    refused(plain, bound, r"属于发布机构 ORG-0002.*ORG-0001")


def test_unsigned_package_is_refused(plain, trusted):
    refused(rewrite(plain, remove=["manifest.sig"]), trusted, "缺少 manifest.sig")


def test_extra_file_is_refused(plain, trusted):
    forged = rewrite(plain, add=[("media/extra.png", PNG)])
    refused(forged, trusted, r"media/extra.png 不在清单中")


def test_missing_file_is_refused(plain, trusted):
    forged = rewrite(plain, remove=["media/guard.png"])
    refused(forged, trusted, r"缺少清单列出的文件 media/guard.png")


@pytest.mark.parametrize(
    "name", ["../evil.json", "media/../../evil.json", "/etc/passwd", "media\\..\\x", "C:/x", "a//b"]
)
def test_path_traversal_is_refused(plain, trusted, name):
    forged = rewrite(plain, add=[(name, b"x")])
    refused(forged, trusted, r"不安全.*\(unsafe path / path traversal\)")


def test_duplicate_names_are_refused(plain, trusted):
    forged = rewrite(plain, add=[("content.json", b"{}")])
    refused(forged, trusted, r"content.json 出现了不止一次 \(duplicate entry\)")


def test_unknown_format_version_is_refused(plain, trusted, issuer):
    forged = rewrite(plain, resign=issuer, edit=lambda m: m.update(format="skillcert-bank/2"))
    refused(forged, trusted, r"不支持的题库包格式版本 'skillcert-bank/2'")


def test_counts_must_match_content(plain, trusted, issuer):
    forged = rewrite(plain, resign=issuer, edit=lambda m: m["counts"].update(single_choice=3))
    opened = package.open_package(forged, trusted=trusted)
    with pytest.raises(PackageError, match="数量.*不符"):
        opened.content()


def test_malformed_item_names_the_item(plain, trusted, issuer):
    content = json.loads(entries(plain)["content.json"])
    content["items"][1]["type"] = "essay"
    forged = rewrite(plain, replace={"content.json": json.dumps(content).encode()}, resign=issuer)
    with pytest.raises(PackageError, match=r"第 2 个试题 \(SC-002\) 无效"):
        package.open_package(forged, trusted=trusted).content()


def test_unsafe_html_is_sanitised_even_when_signed(plain, trusted, issuer):
    content = json.loads(entries(plain)["content.json"])
    content["items"][0]["stem"] = "<p>题干</p><script>steal()</script>"
    forged = rewrite(plain, replace={"content.json": json.dumps(content).encode()}, resign=issuer)
    item = package.open_package(forged, trusted=trusted).content().items[0]
    assert "script" not in item.stem and "题干" in item.stem


def test_not_a_zip_is_refused(trusted):
    for data in (b"", b"hello, this is not a zip", b"PK\x03\x04broken"):
        refused(data, trusted, r"不是有效的题库包.*\(not a zip file\)")
    refused(zip_of([("readme.txt", b"hi")]), trusted, r"没有 manifest.json")


def test_zip_bomb_guard_caps_total_size(plain, trusted):
    refused(plain, trusted, r"超过 0.00\d+ MiB 上限", max_total_size=1000)
    total = sum(len(b) for b in entries(plain).values())
    package.open_package(plain, trusted=trusted, max_total_size=total + len(plain))


def test_zip_bomb_guard_caps_compression_ratio(plain, trusted):
    bomb = rewrite(plain, add=[("media/zeros.bin", bytes(4 * 1024 * 1024))])
    refused(bomb, trusted, r"media/zeros.bin 压缩比异常.*\(zip bomb guard\)")


# --- release codes and content keys ------------------------------------------------------------


def test_release_code_shape_and_normalisation(locked):
    _, key = locked
    code = package.release_code_for(key)
    groups = code.split("-")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups)
    assert set(code.replace("-", "")) <= set(CROCKFORD)
    typed = " ".join(groups).lower().replace("0", "o").replace("1", "l")
    assert package.parse_release_code(typed) == key


def test_wrong_release_code_is_refused(locked, trusted):
    data, _ = locked
    other = package.parse_release_code(package.release_code_for(bytes(range(32))))
    opened = package.open_package(data, trusted=trusted)
    with pytest.raises(PackageError, match="解锁码与该题库包不匹配"):
        opened.content(other)


def test_typo_in_release_code_is_detected_before_decryption(locked):
    _, key = locked
    code = package.release_code_for(key).replace("-", "")
    for position in range(len(code)):
        for wrong in CROCKFORD:
            if wrong != code[position]:
                typo = code[:position] + wrong + code[position + 1 :]
                with pytest.raises(PackageError, match="解锁码校验失败"):
                    package.parse_release_code(typo)
    for position in range(len(code) - 1):
        if code[position] != code[position + 1]:
            swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
            with pytest.raises(PackageError, match="解锁码校验失败"):
                package.parse_release_code(swapped)


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda c: c[:-5], "应为 56 个字符"),
        (lambda c: c + "-0000", "应为 56 个字符"),
        (lambda c: "U" + c[1:], "第 1 组中的字符 'U' 不是有效字符"),
    ],
)
def test_release_code_errors_say_what_is_wrong(locked, mangle, why):
    with pytest.raises(PackageError, match=f"解锁码校验失败：.*{why}"):
        package.parse_release_code(mangle(package.release_code_for(locked[1])))


def test_encrypted_file_swapped_between_packages_is_refused(issuer, trusted):
    key = bytes(range(32))
    v3, _ = package.build_package(
        make_content(), manifest_meta=make_meta(), key=issuer, encrypt=True, content_key=key
    )
    v4, _ = package.build_package(
        make_content(),
        manifest_meta=make_meta(version=4),
        key=issuer,
        encrypt=True,
        content_key=key,
    )
    # Even someone able to sign cannot move a ciphertext to another bank version.
    nonce = json.loads(entries(v4)["manifest.json"])["files"]["content.json"]["nonce"]
    forged = rewrite(
        v3,
        replace={"content.json": entries(v4)["content.json"]},
        resign=issuer,
        edit=lambda m: m["files"]["content.json"].update(nonce=nonce),
    )
    opened = package.open_package(forged, trusted=trusted)
    with pytest.raises(PackageError, match=r"文件 content.json 解密失败.*IRAP-M 版本 3"):
        opened.content(key)


def test_encrypted_files_swapped_within_a_package_are_refused(issuer, trusted):
    data, key = package.build_package(
        make_content(), manifest_meta=make_meta(), key=issuer, encrypt=True
    )
    files = entries(data)
    manifest = json.loads(files["manifest.json"])["files"]
    a, b = "media/guard.png", "media/docs/说明.txt"

    def swap_nonces(m):
        m["files"][a]["nonce"], m["files"][b]["nonce"] = manifest[b]["nonce"], manifest[a]["nonce"]

    forged = rewrite(data, replace={a: files[b], b: files[a]}, resign=issuer, edit=swap_nonces)
    with pytest.raises(PackageError, match="解密失败"):
        package.open_package(forged, trusted=trusted).content(key)


def test_wrapped_key_round_trip():
    station = X25519PrivateKey.generate()
    key = bytes(range(32))
    wrapped = package.wrap_content_key(key, station.public_key(), context="IRAP-M/3")
    assert json.loads(json.dumps(wrapped)) == wrapped
    assert wrapped["alg"] == "X25519-HKDF-SHA256-A256GCM"
    assert package.unwrap_content_key(wrapped, station) == key
    assert package.unwrap_content_key(wrapped, station, expected_context="IRAP-M/3") == key


def test_wrapped_key_for_another_station_is_refused():
    station, other = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    wrapped = package.wrap_content_key(bytes(32), station.public_key())
    with pytest.raises(PackageError, match="不是发给本站点的"):
        package.unwrap_content_key(wrapped, other)
    # Relabelled for the other station, it still cannot be opened.
    relabelled = dict(wrapped, recipient=recipient_id(other.public_key()))
    with pytest.raises(PackageError, match="无法解开"):
        package.unwrap_content_key(relabelled, other)


def test_wrapped_key_context_is_bound():
    station = X25519PrivateKey.generate()
    wrapped = package.wrap_content_key(bytes(32), station.public_key(), context="IRAP-M/3")
    with pytest.raises(PackageError, match="无法解开"):
        package.unwrap_content_key(dict(wrapped, context="IRAP-M/4"), station)
    with pytest.raises(PackageError, match="wrong context"):
        package.unwrap_content_key(wrapped, station, expected_context="IRAP-M/4")


# --- building refuses bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"level": ""}, "level"),
        ({"version": 0}, "version"),
        ({"version": "v3"}, "version"),
        ({"bank": "../x"}, "bank"),
        ({"programme": "工业机器人"}, "programme"),
        ({"issuer": {"code": "ORG-0001"}}, "issuer"),
        ({"created_at": "2026-03-01 08:00"}, "created_at"),
    ],
)
def test_build_refuses_bad_metadata(issuer, changes, field):
    with pytest.raises(PackageError, match=f"manifest_meta 字段 {field} 缺失或无效"):
        package.build_package(make_content(), manifest_meta=make_meta(**changes), key=issuer)


def test_build_accepts_a_numeric_version_string(issuer):
    data, _ = package.build_package(
        make_content(), manifest_meta=make_meta(version="5"), key=issuer
    )
    assert package.read_manifest_unverified(data).version == 5


def test_build_refuses_unsafe_media_names_and_duplicate_uids(issuer):
    content = make_content()
    content.media["../escape.png"] = PNG
    with pytest.raises(PackageError, match="不安全"):
        package.build_package(content, manifest_meta=make_meta(), key=issuer)
    content = make_content()
    content.items.append(_single("SC-001", "A01"))
    with pytest.raises(PackageError, match="试题编号重复：SC-001"):
        package.build_package(content, manifest_meta=make_meta(), key=issuer)


# --- issuer keys -------------------------------------------------------------------------------


def test_issuer_key_pem_round_trip_keeps_the_kid():
    key = signing.IssuerKey.generate("issuer-2027")
    pem = key.private_pem(b"s3cret passphrase")
    assert "ENCRYPTED PRIVATE KEY" in pem
    loaded = signing.IssuerKey.load(pem, "s3cret passphrase")
    assert loaded.kid == "issuer-2027" and loaded.public_pem() == key.public_pem()
    with pytest.raises(signing.IssuerKeyError, match="口令错误"):
        signing.IssuerKey.load(pem, b"wrong")
    unencrypted = signing.IssuerKey.load(key.private_pem(None), None)
    assert unencrypted.kid == "issuer-2027"


def test_default_kid_is_derived_from_the_public_key():
    key = signing.IssuerKey.generate()
    assert key.kid.startswith("iss-") and key.kid == signing.key_id_for(key.public_key)


def test_trusted_issuers_refuse_a_bad_pem():
    with pytest.raises(signing.IssuerKeyError, match="issuer-x"):
        signing.TrustedIssuers.from_pems({"issuer-x": "not a pem"})


def test_a_small_order_issuer_key_is_refused():
    """The identity point as issuer key would make a forged signature (R = identity, S = 0)
    verify for any package in OpenSSL's check."""
    weak = Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31))
    pem = weak.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(signing.IssuerKeyError, match="small-order"):
        signing.load_public(pem)
    with pytest.raises(signing.IssuerKeyError, match="issuer-x"):
        signing.TrustedIssuers.from_pems({"issuer-x": pem})
