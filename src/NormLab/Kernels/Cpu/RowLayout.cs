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
        C = g * cg;
        ChannelsPerStat = reduceCg ? cg : 1;
        Population = C / ChannelsPerStat;
        StatCount = (reduceA ? 1 : a) * Population;
        RowsPerStat = (reduceA ? a : 1) * ChannelsPerStat;
    }

    public long A { get; }
    public long G { get; }
    public long Cg { get; }
    public long S { get; }
    public bool ReduceA { get; }
    public bool ReduceCg { get; }

    /// <summary>Whether the output (y forward, dx backward) is written with streaming stores (<see cref="StreamingStores"/>).</summary>
    public bool StreamOutput { get; init; }

    /// <summary>Channels, G·Cg.</summary>
    public long C { get; }

    /// <summary>Channels behind one statistic: Cg when the group is reduced, else 1.</summary>
    public long ChannelsPerStat { get; }

    /// <summary>Statistics per sample; also the size of the population (running) statistics.</summary>
    public long Population { get; }

    /// <summary>The number of statistics.</summary>
    public long StatCount { get; }

    /// <summary>Rows behind one statistic.</summary>
    public long RowsPerStat { get; }

    /// <summary>Elements behind one statistic, n.</summary>
    public long Count => RowsPerStat * S;

    /// <summary>The number of rows, A·C.</summary>
    public long Rows => A * C;

    /// <summary>The population index of statistic k.</summary>
    public long PopulationIndex(long k) => ReduceA ? k : k % Population;

    /// <summary>The statistic that row <paramref name="index"/> (a·C + c) belongs to.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public long StatOfRow(long index)
    {
        long a = index / C, c = index - a * C, q = ChannelsPerStat == 1 ? c : c / ChannelsPerStat;
        return ReduceA ? q : a * Population + q;
    }

    /// <summary>Row j of statistic k: its index a·C + c (its offset is index·S) and its channel c.</summary>
    /// <remarks>Called per row by the kernels, so it divides only where the layout needs it (short rows made the divisions show).</remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public (long Index, long Channel) Row(long k, long j)
    {
        long cps = ChannelsPerStat;
        if (ReduceA)
        {
            // k is the population index q; j runs over (a, cg).
            long a = cps == 1 ? j : j / cps, cg = cps == 1 ? 0 : j - a * cps;
            long c = k * cps + cg;
            return (a * C + c, c);
        }
        // k = a·Population + q; the rows of a statistic are consecutive channels.
        long aq = Population == 1 ? k : k / Population;
        long ch = (k - aq * Population) * cps + j;
        return (aq * C + ch, ch);
    }
}
