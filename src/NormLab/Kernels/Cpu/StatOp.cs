using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// What a fused kernel does with one statistic: whether it subtracts the mean, how the factor r that
/// multiplies (x − μ) follows from the spread (the biased variance, or the mean square when not
/// centering), and that factor's derivative for the backward pass.
/// </summary>
/// <remarks>
/// Backward, with g = ∂L/∂x̂ and x̂ = (x − μ)·r(v): ∂L/∂x = r·(g − ḡ) + (2 r′(v)/n)·(x − μ)·Σ g·(x − μ),
/// where the ḡ term appears only when centering. <see cref="SpreadGradient"/> returns 2 r′(v)/n.
/// </remarks>
internal abstract class StatOp
{
    /// <summary>Whether the mean is subtracted (standardization, centering) or not (RMS scaling).</summary>
    public abstract bool Centers { get; }

    /// <summary>r from a batch statistic of n elements with spread v.</summary>
    public abstract double Factor(long n, double spread);

    /// <summary>2·r′(v)/n, the coefficient of (x − μ)·Σ g·(x − μ) in ∂L/∂x.</summary>
    public abstract double SpreadGradient(long n, double spread, double r);

    /// <summary>r from the stored population statistic (eval mode).</summary>
    public abstract double StoredFactor(double stored);

    /// <summary>The factor turning a batch spread of n elements into the population form the running estimate tracks.</summary>
    public abstract double PopulationSpreadFactor(long n);

    /// <summary>The running-estimate names of the mean and the spread (null where not tracked).</summary>
    public abstract (string? Mean, string? Spread) RunningNames { get; }

    /// <summary>
    /// A batch statistic from its shifted sums s1 = Σ(x − k), s2 = Σ(x − k)² over n elements: the mean
    /// (0 when not centering), the spread (biased variance, or mean square when not centering; with k = 0)
    /// and r.
    /// </summary>
    public (double Mean, double Spread, double R) FromSums(double shift, double s1, double s2, long n)
    {
        double m1 = s1 / n;
        double spread = Centers ? Math.Max(s2 / n - m1 * m1, 0.0) : s2 / n;
        return (Centers ? shift + m1 : 0.0, spread, Factor(n, spread));
    }

    /// <summary>
    /// The backward coefficients of one statistic from g1 = Σ g and g2 = Σ g·(x − μ): ḡ = g1/n (centering
    /// only) and b = <see cref="SpreadGradient"/>·g2; both 0 with stored statistics, where dx = r·g.
    /// </summary>
    public (double Gbar, double B) GradientCoefficients(bool batch, long n, double spread, double r, double g1, double g2) =>
        (batch && Centers ? g1 / n : 0.0, batch ? SpreadGradient(n, spread, r) * g2 : 0.0);

    /// <summary>rⱼ = <see cref="Factor"/>(n, spreadⱼ) for <paramref name="count"/> statistics.</summary>
    public virtual unsafe void Factors(long n, double* spread, double* r, long count)
    {
        for (long j = 0; j < count; j++) r[j] = Factor(n, spread[j]);
    }

    /// <summary>gⱼ ·= <see cref="SpreadGradient"/>(n, spreadⱼ, rⱼ) for <paramref name="count"/> statistics.</summary>
    public virtual unsafe void ScaleBySpreadGradient(long n, double* spread, double* r, double* g, long count)
    {
        for (long j = 0; j < count; j++) g[j] *= SpreadGradient(n, spread[j], r[j]);
    }
}

/// <summary>
/// Standardization: r = 1/sqrt(c·v + eps), or 1/(sqrt(c·v) + eps) with <paramref name="epsOutsideRoot"/>
/// (weight standardization's official form); c = n/(n − 1) with the unbiased variance, else 1.
/// The running estimate tracks the mean and the unbiased variance; eval uses 1/sqrt(var + eps).
/// </summary>
internal sealed class StandardizeOp(double eps, bool unbiased, bool epsOutsideRoot = false) : StatOp
{
    public override bool Centers => true;

    private static double Correction(long n) => n > 1 ? n / (n - 1.0) : double.PositiveInfinity;

    private double Scale(long n) => unbiased ? Correction(n) : 1.0;

    public override double Factor(long n, double spread)
    {
        double v = Scale(n) * spread;
        return epsOutsideRoot ? 1.0 / (Math.Sqrt(v) + eps) : 1.0 / Math.Sqrt(v + eps);
    }

    public override double SpreadGradient(long n, double spread, double r)
    {
        double c = Scale(n);
        return epsOutsideRoot ? -c * r * r / (n * Math.Sqrt(c * spread)) : -c * r * r * r / n;
    }

    public override double StoredFactor(double stored) => 1.0 / Math.Sqrt(stored + eps);

    public override double PopulationSpreadFactor(long n) => Correction(n);

    public override unsafe void Factors(long n, double* spread, double* r, long count)
    {
        if (epsOutsideRoot)
        {
            base.Factors(n, spread, r, count);
            return;
        }
        var c = Vector256.Create(Scale(n));
        var e = Vector256.Create(eps);
        var one = Vector256.Create(1.0);
        long j = 0;
        for (; j + 4 <= count; j += 4)
        {
            var v = Vector256.Load(spread + j) * c + e;
            Vector256.Store(one / Vector256.Sqrt(v), r + j);
        }
        for (; j < count; j++) r[j] = Factor(n, spread[j]);
    }

    public override unsafe void ScaleBySpreadGradient(long n, double* spread, double* r, double* g, long count)
    {
        if (epsOutsideRoot)
        {
            base.ScaleBySpreadGradient(n, spread, r, g, count);
            return;
        }
        var k = Vector256.Create(-Scale(n) / n);
        long j = 0;
        for (; j + 4 <= count; j += 4)
        {
            var rv = Vector256.Load(r + j);
            Vector256.Store(Vector256.Load(g + j) * (rv * rv * rv * k), g + j);
        }
        for (; j < count; j++) g[j] *= SpreadGradient(n, spread[j], r[j]);
    }

    public override (string? Mean, string? Spread) RunningNames => ("mean", "var");
}

/// <summary>Scaling by a power of the mean square: r = (k + α·E[x²])^(−β), no centering (RMSNorm: k = eps, α = 1, β = ½).</summary>
internal sealed class ScaleOp(double offset, double alpha, double beta) : StatOp
{
    public override bool Centers => false;

    public override double Factor(long n, double spread) => StoredFactor(spread);

    public override double SpreadGradient(long n, double spread, double r) => -2.0 * beta * alpha * r / ((alpha * spread + offset) * n);

    public override double StoredFactor(double stored)
    {
        double d = stored * alpha + offset;
        return beta == 0.5 ? 1.0 / Math.Sqrt(d) : Math.Pow(d, -beta);
    }

    public override double PopulationSpreadFactor(long n) => 1.0;

    public override (string? Mean, string? Spread) RunningNames => (null, "mean_square");
}

/// <summary>Centering only: r = 1.</summary>
internal sealed class CenterOp : StatOp
{
    public override bool Centers => true;

    public override double Factor(long n, double spread) => 1.0;

    public override double SpreadGradient(long n, double spread, double r) => 0.0;

    public override double StoredFactor(double stored) => 1.0;

    public override double PopulationSpreadFactor(long n) => 1.0;

    public override (string? Mean, string? Spread) RunningNames => ("mean", null);
}
