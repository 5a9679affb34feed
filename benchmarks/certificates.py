"""Benchmark: issuing a session's certificate PDFs (photo and QR on each) with ``render_batch``.

Renders N certificates (default 300) with ``certs.certificate_pdf.render_batch`` — chunks of
certificates laid out as one WeasyPrint document each, cached fonts and stylesheet, a process
pool — and compares, in the same run, with the naive way: one independent
``weasyprint.HTML(string=...).write_pdf()`` per certificate (same template, same data), timed
on a small sample after one untimed warm-up and extrapolated. Optionally also the naive way
with WeasyPrint's fontTools subsetter, which it uses where ``libharfbuzz-subset`` is missing or
older than 4.1 (seconds per document for a CJK font): what a station without it would see.

Printed: seconds per certificate and certificates per second for each way, the ratio
batch / naive, the peak RSS of this process and of the largest worker. The output is checked
(page counts, one page per single) before the figures are printed.

    .venv/bin/python benchmarks/certificates.py [--count 300] [--workers 2] [--naive 5]
        [--fonttools-naive 2] [--serial]

Target: >= 10 certificates/s with 2 cores, >= 25x the naive rate where subsetting is slow.
The machine may be shared: run it twice and read the better run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import random
import sys
import time
from pathlib import Path

try:
    import certs  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jinja2
import pypdf
import weasyprint
from PIL import Image, ImageDraw

from certs.certificate_pdf import (
    CertificatePrint,
    Scores,
    _harfbuzz_subsetting,
    _usable_cpus,
    load_template,
    render_batch,
    template_context,
)
from certs.ticket_pdf import _fetcher

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬鑫斌浩宇轩子涵欣怡梓睿晨思雨博文嘉琪鹏飞婷婷俊熙瑶璐"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
OCCUPATIONS = [
    ("电工", "6-31-01-03", "维修电工"),
    ("焊工", "6-18-02-04", "熔化焊接与热切割"),
    ("育婴员", "4-10-01-02", None),
    ("网络与信息安全管理员", "4-04-04-02", "网络安全管理员"),
]
LEVELS = ["五级/初级工", "四级/中级工", "三级/高级工", "二级/技师"]


def photo(seed: int) -> bytes:
    """A 295 × 413 px (25 × 35 mm at 300 dpi) JPEG with some texture, ~20–30 kB like an ID photo."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (295, 413), (200 + rnd.randrange(40), 210, 230))
    draw = ImageDraw.Draw(image)
    skin = (220 - rnd.randrange(40), 180 - rnd.randrange(40), 150 - rnd.randrange(30))
    draw.ellipse((80, 60, 215, 230), fill=skin)
    draw.rectangle((40, 250, 255, 413), fill=(rnd.randrange(80), rnd.randrange(80), 120))
    noise = Image.effect_noise((295, 413), 40).convert("RGB")
    image = Image.blend(image, noise, 0.08)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def make_prints(count: int) -> list[CertificatePrint]:
    photos = [photo(i) for i in range(min(count, 50))]  # decoding cost is per certificate anyway
    prints = []
    for i in range(count):
        rnd = random.Random(i)
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2)))
        occupation, code, direction = OCCUPATIONS[i % len(OCCUPATIONS)]
        level = LEVELS[i % len(LEVELS)]
        token = "".join(rnd.choice(BASE32) for _ in range(200))  # ~ a signed certificate token
        prints.append(
            CertificatePrint(
                number=f"S1234440100012625{i + 1:05d}",
                holder_name=name,
                gender="女" if i % 2 else "男",
                id_type="居民身份证",
                id_number=f"440106{1980 + i % 20}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}X",
                occupation=occupation,
                occupation_code=code,
                direction=direction,
                level=level,
                issuing_body="广东省某某职业技能评价中心",
                issue_date=dt.date(2026, 12, 20),
                qr_url=f"HTTPS://VERIFY.HRSS.GD.GOV.CN/V/{token}",
                programme=f"{occupation}职业技能等级认定",
                session_code="S20261205-03",
                station_name="广州市第一职业技能考核站",
                photo=photos[i % len(photos)],
                scores=Scores(
                    theory=60 + rnd.randrange(40),
                    practical=60 + rnd.randrange(400) / 10,
                    review=70 + rnd.randrange(30) if level == "二级/技师" else None,
                ),
            )
        )
    return prints


def naive_pdf(p: CertificatePrint, html_template: jinja2.Template, css: str) -> bytes:
    """The naive way: a fresh WeasyPrint document per certificate, CSS inline, nothing cached."""
    body = html_template.render(template_context(p))
    html = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<style>{css}</style></head><body>{body}</body></html>"
    )
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_fetcher()).write_pdf()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    try:
        import resource
    except ImportError:  # Windows: this process only
        return time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def time_naive(prints: list[CertificatePrint], sample: int) -> tuple[float, float]:
    """Wall and CPU seconds per certificate the naive way (after one untimed warm-up)."""
    template = load_template(None)
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html_template = env.from_string(template.html)
    naive_pdf(prints[-1], html_template, template.css)
    start, cpu = time.perf_counter(), cpu_seconds()
    for p in prints[:sample]:
        pdf = naive_pdf(p, html_template, template.css)
        assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    return (time.perf_counter() - start) / sample, (cpu_seconds() - cpu) / sample


def time_fonttools_naive(prints: list[CertificatePrint], sample: int) -> tuple[float, float]:
    """The naive way with WeasyPrint's fontTools subsetter (no HarfBuzz subsetting)."""
    import weasyprint.pdf.fonts as fonts

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # "Using fontTools instead ..."
    saved = fonts.harfbuzz_subset
    fonts.harfbuzz_subset = None
    try:
        return time_naive(prints, sample)
    finally:
        fonts.harfbuzz_subset = saved


def time_batch(
    prints: list[CertificatePrint], workers: int, shared_fonts: bool
) -> tuple[float, float]:
    """Wall and CPU seconds per certificate with render_batch (pool start-up included)."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        percent = done * 100 // total
        if percent // 10 != shown[0] // 10 or done == total:
            print(f"  {done}/{total}", end="\r", flush=True)
            shown[0] = percent

    start, cpu = time.perf_counter(), cpu_seconds()
    batch = render_batch(prints, workers=workers, progress=progress, shared_fonts=shared_fonts)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    print(" " * 20, end="\r")
    assert len(batch.singles) == len(prints)
    assert len(pypdf.PdfReader(io.BytesIO(batch.combined)).pages) == len(prints)
    for single in batch.singles[:: max(1, len(prints) // 10)]:
        assert len(pypdf.PdfReader(io.BytesIO(single)).pages) == 1
    single_kib = sum(map(len, batch.singles)) / len(prints) / 1024
    print(
        f"  workers={workers} shared_fonts={shared_fonts}: {seconds:.2f} s, combined "
        f"{len(batch.combined) / 2**20:.1f} MiB, singles {single_kib:.0f} KiB each"
    )
    return seconds / len(prints), cpu / len(prints)


def peak_rss_mib() -> tuple[float, float]:
    """Peak RSS of this process and of the largest finished child, in MiB (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0, 0.0
    unit = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss: bytes on macOS, else KiB
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / unit
    return own, kids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="certificates to issue")
    parser.add_argument("--workers", type=int, default=None, help="default: usable CPUs")
    parser.add_argument("--naive", type=int, default=5, help="naive renders to time")
    parser.add_argument(
        "--fonttools-naive", type=int, default=2, help="naive renders with fontTools subsetting"
    )
    parser.add_argument("--serial", action="store_true", help="also time render_batch workers=1")
    parser.add_argument(
        "--shared-fonts", action="store_true", help="also time render_batch(shared_fonts=True)"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.naive < 1:
        parser.error("--count and --naive must be at least 1")

    prints = make_prints(args.count)
    workers = args.workers or _usable_cpus()
    fast = _harfbuzz_subsetting()
    print(
        f"{args.count} certificates (photo {len(prints[0].photo or b'') // 1024} KiB JPEG, "
        f"QR of {len(prints[0].qr_url)} characters), WeasyPrint {weasyprint.__version__}, "
        f"HarfBuzz subsetting: {'yes' if fast else 'no'}, {_usable_cpus()} usable CPUs"
    )
    rows = [("naive (one document per certificate)", *time_naive(prints, args.naive))]
    if args.fonttools_naive:
        ft = time_fonttools_naive(prints, args.fonttools_naive)
        rows.append(("naive, fontTools subsetter", *ft))
    configs = [(1, not fast)] if args.serial else []
    configs.append((workers, not fast))  # the default: what the target is about
    if args.shared_fonts and fast:
        configs.append((workers, True))
    default = None
    for n, shared in configs:
        name = f"render_batch workers={n}" + (" shared_fonts" if shared else "")
        rows.append((name, *time_batch(prints, n, shared)))
        if n == workers and shared == (not fast):
            default = rows[-1]
    own, kids = peak_rss_mib()

    naive_wall, naive_cpu = rows[0][1], rows[0][2]
    ft_wall = rows[1][1] if args.fonttools_naive else 0.0
    print(
        f"\n{'way':<42}{'wall s/cert':>12}{'certs/s':>9}{'CPU s/cert':>11}"
        f"{'vs naive':>10}{'vs fontTools':>13}"
    )
    for name, wall, cpu in rows:
        vs_ft = f"{ft_wall / wall:.1f}x" if ft_wall else "-"
        print(
            f"{name:<42}{wall:>12.3f}{1 / wall:>9.1f}{cpu:>11.3f}"
            f"{naive_wall / wall:>9.1f}x{vs_ft:>13}"
        )
    assert default is not None
    print(
        f"\n'vs' columns: wall-clock rate ratios (naive rows are samples of {args.naive} and "
        f"{args.fonttools_naive}); CPU per certificate naive / {default[0]}: "
        f"{naive_cpu / default[2]:.2f}"
    )
    print(f"peak RSS: this process {own:.0f} MiB, largest worker {kids:.0f} MiB")
    rate = 1 / default[1]
    print(
        f"target ({default[0]}): >= 10 certificates/s -> {rate:.1f}/s "
        f"({'OK' if rate >= 10 else 'SLOW'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
