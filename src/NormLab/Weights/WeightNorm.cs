using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Weight normalization (Salimans &amp; Kingma 2016, "Weight Normalization: A Simple Reparameterization to
/// Accelerate Training of Deep Neural Networks"): w = g · v / ‖v‖, the norm taken over every dim except
/// <see cref="Dim"/>.
/// </summary>
/// <remarks>
/// PyTorch's <c>torch.nn.utils.weight_norm</c> semantics: state <c>weight_g</c> (initialized to ‖w‖, in
/// the broadcast shape, e.g. [out, 1, 1, 1] for dim 0, a scalar for dim −1) and <c>weight_v</c>
/// (initialized to w); no eps; dim −1 is PyTorch's <c>dim=None</c>, one norm over the whole weight.
/// </remarks>
public sealed class WeightNorm : WeightNormalizer
{
    /// <summary>Creates weight normalization.</summary>
    /// <param name="dim">The dim g keeps: 0 (default) gives one g per output row; −1 one norm over the whole weight.
    /// Must be −1 or a dim of the weight (checked when applied).</param>
    /// <exception cref="ArgumentException">dim below −1.</exception>
    public WeightNorm(long dim = 0) : base("wn") =>
        Dim = dim >= -1 ? dim : throw new ArgumentException($"dim ({dim}) must be -1 (one norm over the whole weight) or a dim of the weight (0 or more)", nameof(dim));

    /// <summary>The dim g keeps; −1 for a single norm.</summary>
    public long Dim { get; }

    /// <inheritdoc />
    public override string RawSuffix => "v";

    /// <summary>Applies weight normalization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">no such parameter, already reparametrized, or dim out of range.</exception>
    public static T Apply<T>(T module, string name = "weight", long dim = 0) where T : nn.Module =>
        Reparametrization.Apply(module, new WeightNorm(dim), name);

    /// <summary>‖v‖ over every dim except <paramref name="dim"/>, in the broadcast shape (a scalar for −1), as PyTorch's <c>norm_except_dim</c>.</summary>
    public static Tensor NormExceptDim(Tensor v, long dim)
    {
        if (dim == -1) return linalg.vector_norm(v);
        var shape = v.shape.Select((s, i) => i == dim ? s : 1L).ToArray();
        var rows = v.transpose(0, dim).reshape(v.shape[dim], -1);
        return WeightRows.RowNorms(rows).reshape(shape);
    }

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape)
    {
        if (Dim >= shape.Length)
            throw new ArgumentException($"wn: dim ({Dim}) is out of range for the weight {Checks.Shape(shape)}; use 0..{shape.Length - 1}, or -1 for one norm over the whole weight", "dim");
    }

    /// <inheritdoc />
    protected internal override void Initialize(WeightState state, Tensor weight) =>
        state.AddParameter("g", NormExceptDim(weight, Dim));

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var v = state.Parameter("v");
        return v * (state.Parameter("g") / NormExceptDim(v, Dim));
    }
}
