using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Orthogonal weight normalization (Huang et al. 2018, "Orthogonal Weight Normalization: Solution to
/// Optimization over Multiple Dependent Stiefel Manifolds in Deep Neural Networks"): per group of rows,
/// W = (Zc·Zcᵀ)^(−1/2)·Zc with Zc the rows centered, so the rows of each group are orthonormal.
/// </summary>
/// <remarks>
/// Semantics of <c>huangleiBuaa/OthogonalWN</c> <c>module_pytorch/OWN.py</c> (<c>OWNNorm</c>): the weight is
/// viewed as [G, n/G, d] (groups of consecutive rows), each row is centered over its d elements,
/// S = Zc·Zcᵀ is decomposed as U·Λ·Uᵀ (NormLab uses the symmetric eigendecomposition; the reference calls
/// the SVD of the same symmetric matrix) and W = U·Λ^(−1/2)·Uᵀ·Zc; no eps and no output scale. Because
/// centered rows span at most d − 1 dims, each group must have fewer rows than d. Gradients flow
/// through the eigendecomposition. The raw weight is kept as <c>weight_orig</c>.
/// </remarks>
public sealed class OrthogonalWeightNorm : WeightNormalizer
{
    /// <summary>Creates orthogonal weight normalization.</summary>
    /// <param name="group">Rows per group; must divide the number of rows and be below the row length d.
    /// null (default) = all rows in one group (the reference's norm_groups=1).</param>
    /// <exception cref="ArgumentException">group below 1.</exception>
    public OrthogonalWeightNorm(long? group = null) : base("own") =>
        Group = group is null ? null : Checks.AtLeast(group.Value, 1, nameof(group));

    /// <summary>Rows per group, or null for one group.</summary>
    public long? Group { get; }

    /// <summary>Applies orthogonal weight normalization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static T Apply<T>(T module, string name = "weight", long? group = null) where T : nn.Module =>
        Reparametrization.Apply(module, new OrthogonalWeightNorm(group), name);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape)
    {
        WeightRows.CheckGroups(Name, Group, shape);
        long rows = WeightRows.RowsPerGroup(Group, shape), d = WeightRows.RowLength(shape);
        if (rows >= d)
            throw new ArgumentException($"own: groups of {rows} rows of length {d} cannot be orthonormal after centering (centered rows span at most {d - 1} dims); use group <= {d - 1} for the weight {Checks.Shape(shape)}", "group");
    }

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var raw = state.Parameter(RawSuffix);
        // LibTorch's eigh has no half kernel and does not converge on NaN/Inf: compute half weights in
        // float32 (cast back), and turn a non-finite weight into a clear error instead of a native failure.
        var w = Precision.IsHalf(raw.dtype) ? raw.to(ScalarType.Float32) : raw;
        if (!w.detach().isfinite().all().item<bool>())
            throw new ArgumentException($"own: the weight {Checks.Shape(w.shape)} has NaN or Inf entries; orthogonalization needs finite values", "weight");
        var zc = WeightRows.CenterRows(WeightRows.Grouped(w, WeightRows.RowsPerGroup(Group, w.shape)));
        var s = zc.matmul(zc.transpose(1, 2));
        var (lambda, u) = linalg.eigh(s);
        var whitening = (u * lambda.rsqrt().unsqueeze(1)).matmul(u.transpose(1, 2));
        return whitening.matmul(zc).reshape(w.shape).to(raw.dtype);
    }
}
