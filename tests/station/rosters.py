"""Roster files for tests, with real resident ID numbers (valid MOD 11-2 check characters)."""

from __future__ import annotations

from certs.identity import check_character

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明"]


def resident_id(n: int, *, male: bool = True, region: str = "110105",
                birth: str = "19980312") -> str:  # fmt: skip
    """A valid 18-character resident ID number, distinct per ``n``."""
    serial = (n * 2) % 1000
    if male != bool(serial % 2):
        serial = (serial + 1) % 1000
    first17 = f"{region}{birth}{serial:03d}"
    return first17 + check_character(first17)


def roster_rows(
    count: int, *, start: int = 1, organisation: str = "示例职业学校"
) -> list[list[str]]:
    rows = []
    for i in range(start, start + count):
        male = i % 2 == 1
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
        rows.append([name, "男" if male else "女", "居民身份证", resident_id(i, male=male),
                     organisation, f"139{i:08d}"])  # fmt: skip
    return rows


HEADER = ["姓名", "性别", "证件类型", "证件号码", "工作单位", "手机号"]


def roster_csv(count: int, *, start: int = 1, organisation: str = "示例职业学校",
               encoding: str = "utf-8") -> bytes:  # fmt: skip
    lines = [",".join(HEADER)] + [",".join(r) for r in roster_rows(count, start=start,
                                                                    organisation=organisation)]  # fmt: skip
    return ("\n".join(lines) + "\n").encode(encoding)
