using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Orthogonalization by Newton's iteration, ONI (Huang et al. 2020, "Controllable Orthogonalization in
/// Training DNNs"): per group of rows, S = Zc·Zcᵀ + eps·I, S_N = S/‖S‖_F, B₀ = I,
/// B_{t+1} = 1.5·B_t − 0.5·B_t³·S_N, and W = s · B_T·Zc / sqrt(‖S‖_F), which tends to orthonormal rows
/// (times s) as T grows.
/// </summary>
/// <remarks>
/// <para>Semantics of <c>huangleiBuaa/ONI</c> <c>ONI_PyTorch/extension/normalization/NormedConv.py</c>
/// (<c>ONINorm</c>, <c>ONI_Conv2d</c>): the weight is viewed as [G, n/G, d], rows are centered, eps = 1e-5,
/// the Frobenius norm is per group, and the output is multiplied by <c>NScale</c> = 1.414 (a constant
/// unless <c>learn_scale</c>, the reference's <c>adjustScale</c>, which learns <c>weight_g</c> of shape [n, 1, ...]).
/// When the weight has more rows than columns (n &gt; d, the reference's test
/// <c>out_channels &gt; in_channels·k·k</c>), the column variant (<c>ONINorm_colum</c>) orthogonalizes the
/// columns instead: S = Zcᵀ·Zc + eps·I and W = s · Zc·B_T / sqrt(‖S‖_F).</para>
/// <para>Deviation: the reference's column variant leaves the division S/‖S‖_F commented out while keeping
/// the final division by sqrt(‖S‖_F), so its output is off by that factor and its iteration diverges for
/// ‖S‖ ≳ 3. NormLab normalizes S in both variants, as the paper and the row variant do. The reference's
/// <c>ONI_Linear</c> defaults to T = 4 and NScale = 1; pass them for that layer's behaviour.</para>
/// </remarks>
public sealed class OrthogonalizationByNewton : WeightNormalizer
{
    private readonly RowScale _scale;

    /// <summary>Creates ONI.</summary>
    /// <param name="T">Newton iterations, ≥ 0. Default 5.</param>
    /// <param name="group">Rows per group; must divide the number of rows. null (default) = one group.</param>
    /// <param name="scale">Output scale s, finite. Default 1.414 (the reference's NScale).</param>
    /// <param name="eps">Added to the diagonal of S, ≥ 0. Default 1e-5.</param>
    /// <param name="learn_scale">Learn s per row as <c>weight_g</c>. Default false.</param>
    /// <exception cref="ArgumentException">an argument out of range.</exception>
    public OrthogonalizationByNewton(long T = 5, long? group = null, double scale = 1.414, double eps = 1e-5, bool learn_scale = false) : base("oni")
    {
        Iterations = Checks.AtLeast(T, 0, nameof(T));
        Group = group is null ? null : Checks.AtLeast(group.Value, 1, nameof(group));
        if (!double.IsFinite(scale)) throw new ArgumentException($"scale ({scale}) must be finite", nameof(scale));
        Eps = Checks.NonNegative(eps, nameof(eps));
        _scale = new RowScale(scale, learn_scale);
    }

    /// <summary>Newton iterations T.</summary>
    public long Iterations { get; }

    /// <summary>Rows per group, or null for one group.</summary>
    public long? Group { get; }

    /// <summary>The offset added to the diagonal of S.</summary>
    public double Eps { get; }

    /// <summary>Applies ONI to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static TModule Apply<TModule>(TModule module, string name = "weight", long T = 5, long? group = null, double scale = 1.414, double eps = 1e-5, bool learn_scale = false) where TModule : nn.Module =>
        Reparametrization.Apply(module, new OrthogonalizationByNewton(T, group, scale, eps, learn_scale), name);

    /// <summary>Whether a weight of this shape uses the column variant (more rows than columns).</summary>
    public static bool UsesColumns(long[] shape) => shape[0] > WeightRows.RowLength(shape);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape) => WeightRows.CheckGroups(Name, Group, shape);

    /// <inheritdoc />
    protected internal override void Initialize(WeightState state, Tensor weight) => _scale.Initialize(state, weight);

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var w = state.Parameter(RawSuffix);
        bool columns = UsesColumns(w.shape);
        var zc = WeightRows.CenterRows(WeightRows.Grouped(w, WeightRows.RowsPerGroup(Group, w.shape)));
        var s = columns ? zc.transpose(1, 2).matmul(zc) : zc.matmul(zc.transpose(1, 2));
        var eye = torch.eye(s.shape[1], dtype: s.dtype, device: s.device).expand_as(s);
        s = s + Eps * eye;
        var norm = linalg.matrix_norm(s, "fro", new long[] { 1, 2 }, keepdim: true);
        var sn = s / norm;
        var b = eye;
        for (long t = 0; t < Iterations; t++)
            b = 1.5 * b - 0.5 * b.matmul(b).matmul(b).matmul(sn);
        var o = (columns ? zc.matmul(b) : b.matmul(zc)) / norm.sqrt();
        return _scale.Apply(state, o.reshape(w.shape));
    }
}
