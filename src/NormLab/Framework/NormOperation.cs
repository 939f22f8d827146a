using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Where an operation takes its statistics from in one forward pass: the current batch (optionally
/// blending them into a running estimate), or the stored running estimate.
/// </summary>
public readonly record struct NormPass(bool UseRunning, RunningEstimate? Running)
{
    /// <summary>Batch statistics; <paramref name="track"/>, when given, is updated with them.</summary>
    public static NormPass Batch(RunningEstimate? track) => new(false, track);

    /// <summary>The stored population statistics of <paramref name="running"/>.</summary>
    public static NormPass Stored(RunningEstimate running) => new(true, running);
}

/// <summary>
/// Normalization operation (NOP, survey §3.2): what is done with the statistics of an area.
/// </summary>
/// <remarks>
/// Operations are written against <see cref="NormArea.Average"/>, so every operation works on every
/// area it supports. They receive the area's view and return the normalized view. Operations with
/// learnable state (switchable and mode normalization) register it when attached.
/// </remarks>
public abstract class NormOperation : NormPart
{
    /// <summary>
    /// True when the operation divides by a spread (variance, covariance), so a single value per
    /// statistic is degenerate in training.
    /// </summary>
    public virtual bool NeedsSpread => true;

    /// <summary>
    /// The number of values behind each batch statistic of the view <paramref name="v"/>; training-mode
    /// batch statistics with fewer than 2 are rejected when the area requires more (PyTorch's rule).
    /// </summary>
    public virtual long ValuesPerStatistic(NormArea area, Tensor v) => area.Count(v);

    /// <summary>Checks an input against requirements of the operation itself (for example a second area).</summary>
    public virtual void Validate(Tensor x) { }

    /// <summary>Throws <see cref="ArgumentException"/> when the operation cannot run on <paramref name="area"/>.</summary>
    public virtual void CheckArea(NormArea area) { }

    /// <summary>The population statistics a running estimate tracks for this operation on <paramref name="area"/>.</summary>
    public abstract IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area);

    /// <summary>Normalizes the view <paramref name="v"/> of <paramref name="area"/>.</summary>
    public abstract Tensor Normalize(Tensor v, NormArea area, NormPass pass);
}
