using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// A recovery driven by a condition (survey §3.3, conditional and dynamic recovery): the style features
/// for AdaIN, the segmentation map for SPADE, class ids for conditional BN, a vector for FiLM.
/// </summary>
public abstract class ConditionalRecovery : NormPart
{
    /// <summary>What the condition is, for messages ("style features [N, C, *]").</summary>
    public abstract string ConditionDescription { get; }

    /// <summary>Checks the condition against the input; throws <see cref="ArgumentException"/> naming "condition".</summary>
    public abstract void ValidateCondition(Tensor condition, Tensor input);

    /// <summary>Restores representation from the normalized tensor, the raw input and the condition.</summary>
    public abstract Tensor Apply(Tensor normalized, Tensor input, Tensor condition);

    /// <summary>An error about the condition, naming what it should be.</summary>
    protected ArgumentException ConditionError(Tensor condition, string problem) =>
        new($"condition of shape {Checks.Shape(condition.shape)} ({condition.dtype}) {problem}; {Name} expects {ConditionDescription}", "condition");
}
