using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// An area that reduces whole axes of the canonical view [A, G, Cg, S] (see <see cref="ViewAxes"/>).
/// Every standard area is one choice of groups and reduced axes:
/// batch = G=C, reduce {A, Cg, S}; instance = G=C, reduce {Cg, S}; group(G) = reduce {Cg, S};
/// batch-group(G) = reduce {A, Cg, S}; positional = G=1, reduce {Cg}; layer = reduce {S} over the last K dims.
/// </summary>
/// <remarks>
/// Whitening operations reuse the same areas: the channels within a group (Cg) are the features being
/// decorrelated and the other reduced axes are the samples. Batch-group(C/d) therefore gives batch
/// whitening with group size d, and group(C/d) gives instance (per-sample) whitening.
/// </remarks>
public class ReductionArea : NormArea
{
    /// <summary>Creates an area over inputs with <paramref name="channels"/> channels split into <paramref name="groups"/>.</summary>
    /// <exception cref="ArgumentException">channels or groups below 1, or groups not dividing channels.</exception>
    public ReductionArea(long channels, long groups, ViewAxes reduce, bool requiresMultipleValues = false)
    {
        Checks.Divides(groups, "groups", channels);
        Channels = channels;
        Groups = groups;
        Reduce = reduce;
        _requiresMultipleValues = requiresMultipleValues;
    }

    private readonly bool _requiresMultipleValues;

    /// <summary>Batch normalization's area: per channel, over (N, *spatial).</summary>
    public static ReductionArea Batch(long channels) => new(channels, channels, ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space);

    /// <summary>Instance normalization's area: per (sample, channel), over the spatial dims.</summary>
    public static ReductionArea Instance(long channels) => new(channels, channels, ViewAxes.Channel | ViewAxes.Space, requiresMultipleValues: true);

    /// <summary>Group normalization's area: per (sample, group of C/G contiguous channels), over (C/G, *spatial).</summary>
    public static ReductionArea Group(long channels, long groups) => new(channels, groups, ViewAxes.Channel | ViewAxes.Space);

    /// <summary>Batch group normalization's area: per group of C/G contiguous channels, over (N, C/G, *spatial).</summary>
    public static ReductionArea BatchGroup(long channels, long groups) => new(channels, groups, ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space);

    /// <summary>Positional normalization's area: per (sample, position), over the channels.</summary>
    public static ReductionArea Positional(long channels) => new(channels, 1, ViewAxes.Channel);

    /// <inheritdoc />
    public override string Name => (Reduce, Groups == Channels, Groups == 1) switch
    {
        (ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space, true, _) => "batch",
        (ViewAxes.Channel | ViewAxes.Space, true, _) => "instance",
        (ViewAxes.Channel | ViewAxes.Space, _, _) => $"group({Groups})",
        (ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space, _, _) => $"batch-group({Groups})",
        (ViewAxes.Channel, _, true) => "positional",
        _ => $"reduce({Reduce}, groups={Groups})",
    };

    /// <inheritdoc />
    public override bool RequiresMultipleValues => UsesBatch || _requiresMultipleValues;

    /// <summary>The channel count C the area was built for.</summary>
    public long Channels { get; }

    /// <summary>The number of independent channel groups G.</summary>
    public long Groups { get; }

    /// <summary>Channels per group, C / G.</summary>
    public long GroupSize => Channels / Groups;

    /// <summary>The view axes averaged over.</summary>
    public ViewAxes Reduce { get; }

    /// <summary>The axes that serve as samples when the channels of a group are the features (whitening).</summary>
    public ViewAxes SampleAxes => Reduce & ~ViewAxes.Channel;

    /// <inheritdoc />
    public override bool UsesBatch => Reduce.HasFlag(ViewAxes.Batch);

    /// <inheritdoc />
    public override void Validate(Tensor x)
    {
        if (x.dim() < 2)
            throw new ArgumentException(
                $"input has {x.dim()} dims (shape [{string.Join(", ", x.shape)}]); area '{Name}' expects [N, C, *] with at least 2 dims", "input");
        if (x.shape[1] != Channels)
            throw new ArgumentException(
                $"input has {x.shape[1]} channels (shape [{string.Join(", ", x.shape)}]); this layer was built for num_channels = {Channels}", "input");
    }

    /// <inheritdoc />
    public override Tensor View(Tensor x) => x.reshape(x.shape[0], Groups, GroupSize, -1);

    /// <inheritdoc />
    public override Tensor Average(Tensor v) => v.mean(Reduce.Dims(), keepdim: true);

    /// <summary>E over an explicit set of view axes (whitening averages over <see cref="SampleAxes"/>).</summary>
    public Tensor Average(Tensor v, ViewAxes axes) => v.mean(axes.Dims(), keepdim: true);

    /// <inheritdoc />
    public override long Count(Tensor v) => Count(v, Reduce);

    /// <summary>The number of view elements per statistic when averaging over <paramref name="axes"/>.</summary>
    public static long Count(Tensor v, ViewAxes axes) => axes.Dims().Aggregate(1L, (n, d) => n * v.shape[d]);

    /// <inheritdoc />
    public override long[] PopulationShape => PopulationShapeFor(Reduce);

    /// <summary>Population shape of a statistic averaged over <paramref name="axes"/>: G, times Cg when Cg is kept.</summary>
    public long[] PopulationShapeFor(ViewAxes axes)
    {
        if (!axes.HasFlag(ViewAxes.Space))
            throw new NotSupportedException($"area '{Name}' keeps the spatial axis, so it has no population statistics");
        return new[] { axes.HasFlag(ViewAxes.Channel) ? Groups : Channels };
    }

    /// <inheritdoc />
    public override Tensor ToPopulation(Tensor statistic) => ToPopulation(statistic, Reduce);

    /// <summary>Population form of a statistic of shape [A|1, G, Cg|1, 1]: the batch mean, flattened.</summary>
    public Tensor ToPopulation(Tensor statistic, ViewAxes axes) =>
        (axes.HasFlag(ViewAxes.Batch) ? statistic : statistic.mean(new long[] { 0 }, keepdim: true)).reshape(-1);

    /// <inheritdoc />
    public override Tensor FromPopulation(Tensor population, Tensor v) => FromPopulation(population, Reduce);

    /// <summary>Reshapes a population statistic averaged over <paramref name="axes"/> to broadcast against the view.</summary>
    public Tensor FromPopulation(Tensor population, ViewAxes axes) =>
        population.reshape(1, Groups, axes.HasFlag(ViewAxes.Channel) ? 1 : GroupSize, 1);

    /// <summary>
    /// The view as a batch of sample matrices [P, d, m] for whitening: d = Cg features (the channels of
    /// a group) and m samples (the <see cref="SampleAxes"/>); P counts the independent problems (the
    /// groups, times the samples for instance whitening).
    /// </summary>
    /// <exception cref="NotSupportedException">the area has no sample axes.</exception>
    public Tensor ToMatrix(Tensor v)
    {
        var order = MatrixOrder();
        return v.permute(order).reshape(-1, GroupSize, order.Skip(order.Length - SampleDims.Length).Aggregate(1L, (n, d) => n * v.shape[d]));
    }

    /// <summary>Maps matrices [P, d, m] from <see cref="ToMatrix"/> back to the layout of the view <paramref name="v"/>.</summary>
    public Tensor FromMatrix(Tensor y, Tensor v)
    {
        var order = MatrixOrder();
        var inverse = new long[order.Length];
        for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
        return y.reshape(order.Select(d => v.shape[d]).ToArray()).permute(inverse);
    }

    /// <summary>Averages per-problem matrices or vectors [P, ...] over the batch into population form [G, ...].</summary>
    /// <exception cref="NotSupportedException">the spatial axis is not a sample axis, so problems depend on the input size.</exception>
    public virtual Tensor MatrixToPopulation(Tensor perProblem)
    {
        RequireMatrixPopulation();
        var tail = perProblem.shape.Skip(1).ToArray();
        return perProblem.reshape(new[] { -1L, Groups }.Concat(tail).ToArray()).mean(new long[] { 0 });
    }

    /// <summary>Expands a population matrix or vector [G, ...] to the [P, ...] problems of the view <paramref name="v"/>.</summary>
    public Tensor MatrixFromPopulation(Tensor population, Tensor v)
    {
        RequireMatrixPopulation();
        long copies = SampleAxes.HasFlag(ViewAxes.Batch) ? 1 : v.shape[0];
        var tail = population.shape.Skip(1).ToArray();
        return population.unsqueeze(0).expand(new[] { copies }.Concat(population.shape).ToArray())
            .reshape(new[] { copies * Groups }.Concat(tail).ToArray());
    }

    /// <summary>The mean over the samples (last dim) of matrices [P, d, m]: the whitening mean [P, d, 1].</summary>
    public virtual Tensor MatrixMean(Tensor x) => x.mean(new long[] { -1 }, keepdim: true);

    /// <summary>(1/m)·Xc·Xcᵀ of centered matrices [P, d, m]: the biased covariance [P, d, d] before eps.</summary>
    public virtual Tensor MatrixSecondMoment(Tensor centered) => centered.matmul(centered.transpose(-2, -1)) / centered.shape[2];

    /// <summary>The number of samples m behind each whitening statistic of the view <paramref name="v"/>.</summary>
    public virtual long MatrixSampleCount(Tensor v) => Count(v, SampleAxes);

    /// <summary>
    /// The mean over the mini-batch (dim 0) of per-sample statistics <paramref name="t"/> [A, ...], kept as
    /// a dim of size 1: how multi-mode operations pool batch statistics from per-sample ones (SN's BN branch).
    /// </summary>
    public virtual Tensor BatchMean(Tensor t) => t.mean(new long[] { 0 }, keepdim: true);

    /// <summary>The unbiased variance over the mini-batch (dim 0) of <paramref name="t"/> [A, ...], kept as a dim of size 1.</summary>
    public virtual Tensor BatchVariance(Tensor t) => t.var(0, unbiased: true, keepdim: true);

    /// <summary>The sum of <paramref name="t"/> over its mini-batch dim <paramref name="dim"/> (mode normalization's weighted moments).</summary>
    public virtual Tensor BatchSum(Tensor t, long dim, bool keepdim) => t.sum(new[] { dim }, keepdim);

    /// <summary>The number of samples along the mini-batch dim <paramref name="dim"/> of <paramref name="t"/>.</summary>
    public virtual long BatchCount(Tensor t, long dim = 0) => t.shape[dim];

    private long[] SampleDims => SampleAxes.Dims();

    private long[] MatrixOrder()
    {
        if (SampleAxes == ViewAxes.None)
            throw new NotSupportedException($"area '{Name}' has no sample axes to whiten over");
        var kept = new[] { 0L, 3L }.Except(SampleDims);
        return kept.Concat(new[] { 1L, 2L }).Concat(SampleDims).ToArray();
    }

    /// <summary>Throws <see cref="NotSupportedException"/> when per-problem statistics have no population form.</summary>
    protected void RequireMatrixPopulation()
    {
        if (!SampleAxes.HasFlag(ViewAxes.Space))
            throw new NotSupportedException($"area '{Name}' keeps the spatial axis, so it has no population statistics");
    }
}
