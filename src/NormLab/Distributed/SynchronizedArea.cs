using NormLab.Areas;
using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Distributed;

/// <summary>
/// A reduction area whose batch statistics cover the global mini-batch of a data-parallel job: the
/// concatenation of every process's local batch (PyTorch's SyncBatchNorm, generalized to every
/// batch-statistics normalizer). Every reduction over the batch axis becomes global:
/// E[v] = Σ_p Σ_local v / Σ_p n_p, and the same for counts, whitening means and covariances, and
/// the batch pools of multi-mode operations.
/// </summary>
/// <remarks>
/// Each global statistic is the all-reduced sum of local partial sums divided by the all-reduced count
/// (packed into one all-reduce, in float64). The all-reduce is a custom autograd function whose backward
/// all-reduces the incoming gradient, so input and parameter gradients are those of the sum of all
/// processes' losses: with gradients then summed across processes, training equals single-process
/// training on the global batch. Running statistics are computed from global statistics, so they agree
/// on every process. In a job of one process (<c>Size == 1</c>) every method is the wrapped area's own,
/// so the layer is exactly (bit for bit, kernels included) the unsynchronized one. With more processes
/// no faster kernel runs (<see cref="NormArea.IsDistributed"/>). Every process must run the same layers in
/// the same order with non-empty local batches. Not twice differentiable.
/// </remarks>
public sealed class SynchronizedArea : ReductionArea
{
    private readonly Communicator? _world;

    /// <summary>Synchronizes <paramref name="inner"/> over <paramref name="world"/>.</summary>
    /// <param name="inner">A batch, batch-group, instance or group area (not a layer area, not already synchronized).</param>
    /// <param name="world">The job; null (default) means <see cref="Communicator.World"/>, resolved at the first forward.</param>
    /// <exception cref="ArgumentException">a layer area or an already synchronized one.</exception>
    public SynchronizedArea(ReductionArea inner, Communicator? world = null)
        : base(inner.Channels, inner.Groups, Checked(inner).Reduce, inner.RequiresMultipleValues)
    {
        Inner = inner;
        _world = world;
    }

    /// <summary>The area whose statistics are synchronized.</summary>
    public ReductionArea Inner { get; }

    /// <summary>The job the statistics are synchronized over: the one given, else <see cref="Communicator.World"/> at each call.</summary>
    public Communicator World => _world ?? Communicator.World;

    /// <inheritdoc />
    public override string Name => $"sync({Inner.Name})";

    /// <inheritdoc />
    public override bool IsDistributed => World.Size > 1;

    /// <summary><paramref name="area"/> synchronized when <paramref name="sync"/> is true, else unchanged.</summary>
    public static ReductionArea Maybe(ReductionArea area, bool sync) => sync ? new SynchronizedArea(area) : area;

    /// <inheritdoc />
    public override Tensor Average(Tensor v) =>
        Reduce.HasFlag(ViewAxes.Batch) && IsDistributed ? Mean(v.sum(Reduce.Dims(), keepdim: true), Count(v, Reduce)) : base.Average(v);

    /// <inheritdoc />
    public override long Count(Tensor v) =>
        Reduce.HasFlag(ViewAxes.Batch) && IsDistributed ? (long)World.Sum(Count(v, Reduce)) : base.Count(v);

    /// <inheritdoc />
    public override Tensor ToPopulation(Tensor statistic) =>
        !Reduce.HasFlag(ViewAxes.Batch) && IsDistributed ? BatchMean(statistic).reshape(-1) : base.ToPopulation(statistic);

    /// <inheritdoc />
    public override Tensor MatrixMean(Tensor x) =>
        SampleAxes.HasFlag(ViewAxes.Batch) && IsDistributed ? Mean(x.sum(new long[] { -1 }, keepdim: true), x.shape[2]) : base.MatrixMean(x);

    /// <inheritdoc />
    public override Tensor MatrixSecondMoment(Tensor centered) =>
        SampleAxes.HasFlag(ViewAxes.Batch) && IsDistributed
            ? Mean(centered.matmul(centered.transpose(-2, -1)), centered.shape[2])
            : base.MatrixSecondMoment(centered);

    /// <inheritdoc />
    public override long MatrixSampleCount(Tensor v) =>
        SampleAxes.HasFlag(ViewAxes.Batch) && IsDistributed ? (long)World.Sum(Count(v, SampleAxes)) : base.MatrixSampleCount(v);

    /// <inheritdoc />
    public override Tensor MatrixToPopulation(Tensor perProblem)
    {
        if (SampleAxes.HasFlag(ViewAxes.Batch) || !IsDistributed) return base.MatrixToPopulation(perProblem);
        RequireMatrixPopulation();
        var tail = perProblem.shape.Skip(1).ToArray();
        return BatchMean(perProblem.reshape(new[] { -1L, Groups }.Concat(tail).ToArray())).squeeze(0);
    }

    /// <inheritdoc />
    public override Tensor BatchMean(Tensor t) =>
        IsDistributed ? Mean(t.sum(new long[] { 0 }, keepdim: true), t.shape[0]) : base.BatchMean(t);

    /// <inheritdoc />
    public override Tensor BatchVariance(Tensor t)
    {
        if (!IsDistributed) return base.BatchVariance(t);
        var (sum, n) = GlobalSum((t - BatchMean(t)).square().sum(new long[] { 0 }, keepdim: true), t.shape[0]);
        return sum / (n - 1);
    }

    /// <inheritdoc />
    public override Tensor BatchSum(Tensor t, long dim, bool keepdim) =>
        IsDistributed ? TensorCollectives.Sum(t.sum(new[] { dim }, keepdim), World) : base.BatchSum(t, dim, keepdim);

    /// <inheritdoc />
    public override long BatchCount(Tensor t, long dim = 0) =>
        IsDistributed ? (long)World.Sum(t.shape[dim]) : base.BatchCount(t, dim);

    /// <summary>Σ_p partial_p / Σ_p count_p.</summary>
    private Tensor Mean(Tensor partialSum, long localCount)
    {
        var (sum, count) = GlobalSum(partialSum, localCount);
        return sum / count;
    }

    /// <summary>(Σ_p partial_p, Σ_p count_p) in one differentiable all-reduce, in float64.</summary>
    private (Tensor Sum, double Count) GlobalSum(Tensor partialSum, long localCount)
    {
        var packed = cat(new[]
        {
            partialSum.to(ScalarType.Float64).reshape(-1),
            tensor(new double[] { localCount }, dtype: ScalarType.Float64, device: partialSum.device),
        });
        var total = TensorCollectives.Sum(packed, World);
        long n = partialSum.numel();
        double count = total.narrow(0, n, 1).item<double>();
        return (total.narrow(0, 0, n).reshape(partialSum.shape).to(partialSum.dtype), count);
    }

    private static ReductionArea Checked(ReductionArea inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner is LayerArea)
            throw new ArgumentException($"area '{inner.Name}' is a layer area: its statistics never mix samples, so there is nothing to synchronize", nameof(inner));
        if (inner is SynchronizedArea)
            throw new ArgumentException($"area '{inner.Name}' is already synchronized", nameof(inner));
        return inner;
    }
}
