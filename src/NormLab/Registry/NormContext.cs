using NormLab.Framework;

namespace NormLab.Registry;

/// <summary>
/// What a normalizer factory knows about its inputs: the feature shape (the input shape without the
/// batch dim) and, for conditional normalizers, the condition's shape without the batch dim.
/// </summary>
public sealed record NormContext(long[] FeatureShape, long[]? ConditionShape = null)
{
    /// <summary>C, the first feature dim.</summary>
    public long Channels => FeatureShape[0];

    /// <summary>The input rank a registry-built module accepts: the batch dim plus the feature shape.</summary>
    public int[] Rank => new[] { FeatureShape.Length + 1 };

    /// <summary>The spatial dims (the feature shape after C).</summary>
    public long[] Spatial => FeatureShape[1..];

    /// <summary>The last K entries of the feature shape (all when K is null).</summary>
    /// <exception cref="ArgumentException">K outside 1..FeatureShape.Length.</exception>
    public long[] Trailing(long? dims)
    {
        long k = dims ?? FeatureShape.Length;
        if (k < 1 || k > FeatureShape.Length)
            throw new ArgumentException($"dims ({k}) must be between 1 and the number of feature dims ({FeatureShape.Length})", "dims");
        return FeatureShape[^(int)k..];
    }

    /// <summary>The condition's shape, or an error naming what the normalizer needs.</summary>
    public long[] RequireCondition(string entry, string what) => ConditionShape
        ?? throw new ArgumentException($"'{entry}' is conditional: give the shape of its condition ({what}) without the batch dim", "conditionShape");

    /// <inheritdoc />
    public override string ToString() => $"features {Checks.Shape(FeatureShape)}" + (ConditionShape is { } c ? $", condition {Checks.Shape(c)}" : "");
}
