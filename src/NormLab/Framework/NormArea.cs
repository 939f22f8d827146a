using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Normalization area partitioning (NAP, survey §3.1): over which elements statistics are computed.
/// </summary>
/// <remarks>
/// An area maps an input <c>x</c> of shape [N, C, *spatial] to a view <c>v</c> and defines the
/// averaging operator E_A over that view. Operations are written once against E_A: centering is
/// v − E_A[v], standardization is (v − E_A[v]) / sqrt(E_A[(v − E_A[v])²] + eps), and so on.
/// Reduction areas (batch, layer, instance, group, batch-group, positional) average over axes of a
/// canonical view; local areas (issue: local normalization) average over sliding windows.
/// </remarks>
public abstract class NormArea
{
    /// <summary>Short name, for messages and the registry (e.g. "batch", "group(32)").</summary>
    public abstract string Name { get; }

    /// <summary>True when statistics mix samples of the mini-batch (BN, BGN, batch whitening).</summary>
    public abstract bool UsesBatch { get; }

    /// <summary>
    /// True when training-mode statistics need more than one value per statistic (PyTorch's rule for
    /// batch and instance normalization: one value gives a zero variance and an undefined unbiased one).
    /// </summary>
    public virtual bool RequiresMultipleValues => UsesBatch;

    /// <summary>
    /// True when this area combines statistics across the processes of a data-parallel job (a
    /// synchronized area in a job of more than one process). Faster kernels compute statistics of the
    /// local input only, so <see cref="Normalizer"/> uses none while this is true.
    /// </summary>
    public virtual bool IsDistributed => false;

    /// <summary>Checks the input's rank and sizes; throws <see cref="ArgumentException"/> naming the problem.</summary>
    public abstract void Validate(Tensor x);

    /// <summary>Reshapes a validated input into this area's view (no copy for contiguous inputs).</summary>
    public abstract Tensor View(Tensor x);

    /// <summary>E_A[v]: the average of <paramref name="v"/> over this area, broadcastable against v.</summary>
    public abstract Tensor Average(Tensor v);

    /// <summary>The number of elements behind each statistic, used for the unbiased variance.</summary>
    public abstract long Count(Tensor v);

    /// <summary>
    /// The shape a population (running) statistic takes for this area, or throws
    /// <see cref="NotSupportedException"/> when the area has none (its statistics depend on the input size).
    /// </summary>
    public virtual long[] PopulationShape =>
        throw new NotSupportedException($"area '{Name}' has no population statistics");

    /// <summary>Averages a batch statistic (shaped like <see cref="Average"/>'s result) into population form.</summary>
    public virtual Tensor ToPopulation(Tensor statistic) =>
        throw new NotSupportedException($"area '{Name}' has no population statistics");

    /// <summary>Reshapes a population statistic so it broadcasts against the view <paramref name="v"/>.</summary>
    public virtual Tensor FromPopulation(Tensor population, Tensor v) =>
        throw new NotSupportedException($"area '{Name}' has no population statistics");
}
