"""The verdict rule of docs/verdicts.md for the result scripts here: a
difference of means with its 95 % Welch t interval over per-seed values,
and holds / within noise / contradicted / not enough data. Standard
library only (Debian's python3, no SciPy)."""
import math
import statistics as st


def tq(p, df):
    """Quantile p of Student's t with df degrees of freedom (bisection on
    a Simpson-integrated density)."""
    pdf = lambda x: math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2)) * \
        (1 + x * x / df) ** (-(df + 1) / 2)

    def cdf(x, n=2000):
        h = x / n
        s = pdf(0) + pdf(x)
        for i in range(1, n):
            s += (4 if i % 2 else 2) * pdf(i * h)
        return 0.5 + s * h / 3
    lo, hi = 0.0, 50.0
    for _ in range(60):
        m = (lo + hi) / 2
        (lo, hi) = (m, hi) if cdf(m) < p else (lo, m)
    return (lo + hi) / 2


def welch(a, b):
    """mean(a) - mean(b) and its 95 % Welch interval (each side >= 2 values)."""
    ma, mb, va, vb = st.mean(a), st.mean(b), st.variance(a), st.variance(b)
    se2 = va / len(a) + vb / len(b)
    se = math.sqrt(se2)
    if se == 0:
        d = ma - mb
        return d, d, d
    df = se2 ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    t = tq(0.975, df)
    d = ma - mb
    return d, d - t * se, d + t * se


def verdict(a, b):
    """(text of the difference, interval, verdict) for the claim a > b."""
    if len(a) < 2 or len(b) < 2:
        return '-', '-', 'not enough data'
    m, lo, hi = welch(a, b)
    v = 'holds' if lo > 0 else 'contradicted' if hi < 0 else 'within noise'
    return f'{m:+.2f}', f'[{lo:+.2f}, {hi:+.2f}]', v


def cell(v):
    """mean±std (n); one value has no std."""
    if not v:
        return '-'
    if len(v) == 1:
        return f'{v[0]:.2f} (1)'
    return f'{st.mean(v):.2f}±{st.stdev(v):.2f} ({len(v)})'
