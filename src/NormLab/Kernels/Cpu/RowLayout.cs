namespace NormLab.Kernels.Cpu;

/// <summary>Where a fused kernel's γ and β sit: none, one per channel, or one per position of the normalized trailing dims.</summary>
internal enum AffineKind
{
    /// <summary>No affine parameters.</summary>
    None,
    /// <summary>γ_c, β_c per channel (BN, IN, GN, BGN).</summary>
    PerChannel,
    /// <summary>γⱼ, βⱼ per position within the row (LN, RMSNorm).</summary>
    Elementwise,
}

/// <summary>
/// A contiguous input seen as the canonical view [A, G, Cg, S] and split into rows (a, c) of S
/// contiguous elements, c = g·Cg + cg. The spatial axis is always reduced; reducing A gives batch
/// statistics (BN, BGN), reducing Cg gives one statistic per group (GN, BGN, LN). Each statistic is a
/// fixed set of rows, so statistics are independent units of parallel work.
/// </summary>
internal sealed class RowLayout
{
    public RowLayout(long a, long g, long cg, long s, bool reduceA, bool reduceCg)
    {
        A = a;
        G = g;
        Cg = cg;
        S = s;
        ReduceA = reduceA;
        ReduceCg = reduceCg;
    }

    public long A { get; }
    public long G { get; }
    public long Cg { get; }
    public long S { get; }
    public bool ReduceA { get; }
    public bool ReduceCg { get; }

    /// <summary>Channels, G·Cg.</summary>
    public long C => G * Cg;

    /// <summary>Channels behind one statistic: Cg when the group is reduced, else 1.</summary>
    public long ChannelsPerStat => ReduceCg ? Cg : 1;

    /// <summary>Statistics per sample; also the size of the population (running) statistics.</summary>
    public long Population => C / ChannelsPerStat;

    /// <summary>The number of statistics.</summary>
    public long StatCount => (ReduceA ? 1 : A) * Population;

    /// <summary>Rows behind one statistic.</summary>
    public long RowsPerStat => (ReduceA ? A : 1) * ChannelsPerStat;

    /// <summary>Elements behind one statistic, n.</summary>
    public long Count => RowsPerStat * S;

    /// <summary>The number of rows, A·C.</summary>
    public long Rows => A * C;

    /// <summary>The population index of statistic k.</summary>
    public long PopulationIndex(long k) => ReduceA ? k : k % Population;

    /// <summary>Row j of statistic k: its index a·C + c (its offset is index·S) and its channel c.</summary>
    public (long Index, long Channel) Row(long k, long j)
    {
        long q = PopulationIndex(k);
        long a = ReduceA ? j / ChannelsPerStat : k / Population;
        long c = q * ChannelsPerStat + j % ChannelsPerStat;
        return (a * C + c, c);
    }
}
