namespace NormLab.Kernels.Cpu;

/// <summary>
/// A whitening matrix function W = f(Σ) run as float64 loops over P problems of d × d, keeping what its
/// reverse pass needs, so the fused kernel's backward gets dL/dΣ without a LibTorch graph. Subclasses
/// compute <see cref="Matrix"/> when built and pull one problem back at a time.
/// </summary>
internal abstract unsafe class MatrixTape
{
    /// <param name="sigma">Σ per problem, float64 [P·d·d].</param>
    /// <param name="problems">P.</param>
    /// <param name="d">d.</param>
    /// <exception cref="ArgumentException">Σ does not hold P·d·d values.</exception>
    protected MatrixTape(double[] sigma, long problems, long d)
    {
        CheckSize(sigma, problems, d, nameof(sigma));
        Problems = problems;
        D = d;
        Matrix = new double[problems * d * d];
    }

    /// <summary>P.</summary>
    public long Problems { get; }

    /// <summary>d.</summary>
    public long D { get; }

    /// <summary>W per problem, float64 [P·d·d].</summary>
    public double[] Matrix { get; }

    /// <summary>dL/dΣ, float64 [P·d·d], from dL/dW of the same shape.</summary>
    /// <exception cref="ArgumentException">dW does not hold P·d·d values.</exception>
    public double[] PullBack(double[] dW)
    {
        CheckSize(dW, Problems, D, nameof(dW));
        long dd = D * D;
        var dSigma = new double[Problems * dd];
        var scratch = new double[ScratchMatrices * dd];
        fixed (double* gw = dW, gs = dSigma, s = scratch)
            for (long q = 0; q < Problems; q++) PullBack(q, gw + q * dd, gs + q * dd, s);
        return dSigma;
    }

    /// <summary>d × d scratch matrices that <see cref="PullBack(long, double*, double*, double*)"/> needs.</summary>
    protected abstract int ScratchMatrices { get; }

    /// <summary>Writes problem <paramref name="q"/>'s dL/dΣ from its dL/dW.</summary>
    protected abstract void PullBack(long q, double* dW, double* dSigma, double* scratch);

    private static void CheckSize(double[] values, long problems, long d, string name)
    {
        if (values.LongLength != problems * d * d)
            throw new ArgumentException($"{name} holds {values.LongLength} values, expected {problems}·{d}·{d}", name);
    }
}
