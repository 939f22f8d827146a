namespace NormLab.Kernels.Cpu;

/// <summary>
/// Runs kernel work on LibTorch's intra-op thread count (<c>torch.get_num_threads()</c>), split into a
/// few contiguous chunks of independent items (statistics, rows, tiles) that the threads of
/// <see cref="KernelTeam"/> take from a shared counter. Small jobs run inline: a fork costs
/// microseconds, which only pays off on large tensors.
/// </summary>
internal static class KernelParallel
{
    /// <summary>Below this many elements of work (4 MiB of float32) a job runs on the calling thread.</summary>
    /// <remarks>
    /// Measured on the study CNN's tensors ([64,16,28,28] down to [64,64,7,7], 2 threads): alone, two threads
    /// were no faster than one (fwd+bwd BN 1.17 against 1.30 ms, GN 0.75 against 0.84, BGN 1.81 against
    /// 1.35). In training, between LibTorch's OpenMP convolutions, the fork and join cost more than
    /// they saved: with the threshold at 2¹⁵ instead of 2²⁰, the BN CNN trained at about 6,100 images/s
    /// instead of 8,000, and the GN CNN at 5,600 instead of 7,700.
    /// </remarks>
    public const long MinParallelElements = 1 << 20;

    /// <summary>The thread count kernels use: LibTorch's intra-op setting.</summary>
    public static int Threads => Math.Max(1, TorchSharp.torch.get_num_threads());

    /// <summary>How many chunks <see cref="For(long, int, Action{int, long, long})"/> splits <paramref name="count"/> items into (at most <paramref name="perThread"/> per thread).</summary>
    public static int Chunks(long count, long elementsPerItem, int perThread = 4)
    {
        int threads = Threads;
        if (threads == 1 || count <= 1 || count * elementsPerItem < MinParallelElements) return 1;
        return (int)Math.Min(count, (long)threads * perThread);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(chunk, start, end) over <paramref name="chunks"/> contiguous ranges of
    /// [0, count).
    /// </summary>
    public static void For(long count, int chunks, Action<int, long, long> body)
    {
        if (chunks <= 1)
        {
            body(0, 0, count);
            return;
        }
        int next = -1;
        KernelTeam.Run(Math.Min(chunks, Threads), _ =>
        {
            int c;
            while ((c = Interlocked.Increment(ref next)) < chunks) body(c, count * c / chunks, count * (c + 1) / chunks);
        });
    }

    /// <summary>
    /// Runs <paramref name="body"/>(worker, start, end) over [0, count) on <paramref name="workers"/> workers that take
    /// <paramref name="grain"/> items at a time from a shared counter, so a worker that starts late (its core busy
    /// with another thread) simply takes fewer items. <c>worker</c> is a stable index in [0, workers) for
    /// per-worker state such as accumulators.
    /// </summary>
    public static void ForDynamic(long count, int workers, long grain, Action<int, long, long> body)
    {
        if (workers <= 1)
        {
            body(0, 0, count);
            return;
        }
        long next = 0;
        KernelTeam.Run(Math.Min(workers, Threads), worker =>
        {
            long start;
            while ((start = Interlocked.Add(ref next, grain) - grain) < count)
                body(worker, start, Math.Min(start + grain, count));
        });
    }

    /// <summary>Runs <paramref name="body"/>(start, end) over [0, count), in parallel when the work is large.</summary>
    public static void For(long count, long elementsPerItem, Action<long, long> body) =>
        For(count, Chunks(count, elementsPerItem), (_, start, end) => body(start, end));
}
