using NormLab.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Spectral normalization (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial
/// Networks"): w = W / σ(W), σ the largest singular value of W viewed as a matrix [h, d], estimated by
/// power iteration or, with <c>exact</c>, computed by SVD.
/// </summary>
/// <remarks>
/// PyTorch's <c>torch.nn.utils.spectral_norm</c> semantics: state <c>weight_orig</c> (the raw weight) and
/// persistent buffers <c>weight_u</c> [h] and <c>weight_v</c> [d], initialized to normalized N(0, 1)
/// draws. W is reshaped with <c>dim</c> moved to the front (0, or 1 for transposed convolutions). In
/// training mode each forward first runs, without gradient, <c>n_power_iterations</c> steps
/// v = normalize(Wᵀu), u = normalize(Wv), normalize(a) = a / max(‖a‖, eps), eps = 1e-12, updating the
/// buffers in place; then σ = uᵀWv with u and v held constant in the backward. In eval mode there is no
/// iteration and the stored u, v are used. <c>exact</c> uses σ = the largest singular value of the SVD
/// (differentiated through the SVD) and keeps no u, v buffers.
/// </remarks>
public sealed class SpectralNorm : WeightNormalizer
{
    private readonly Generator? _generator;

    /// <summary>Creates spectral normalization.</summary>
    /// <param name="n_power_iterations">Power-iteration steps per training forward, ≥ 1. Default 1.</param>
    /// <param name="exact">Use σ from the SVD instead of the power iteration. Default false.</param>
    /// <param name="eps">Lower bound of the norms in normalize(·), > 0. Default 1e-12.</param>
    /// <param name="dim">The dim that becomes the matrix rows; null (default) = 1 for transposed convolutions, else 0.</param>
    /// <param name="generator">Random source for the initial u and v; null = the global one (as PyTorch).</param>
    /// <exception cref="ArgumentException">n_power_iterations below 1, eps not positive, or dim negative.</exception>
    public SpectralNorm(long n_power_iterations = 1, bool exact = false, double eps = 1e-12, long? dim = null, Generator? generator = null) : base("spectral")
    {
        PowerIterations = Checks.AtLeast(n_power_iterations, 1, nameof(n_power_iterations));
        Exact = exact;
        Eps = Checks.Positive(eps, nameof(eps));
        if (dim is < 0) throw new ArgumentException($"dim ({dim}) must be a dim of the weight (0 or more)", nameof(dim));
        Dim = dim;
        _generator = generator;
    }

    /// <summary>Power-iteration steps per training forward.</summary>
    public long PowerIterations { get; }

    /// <summary>Whether σ comes from the SVD.</summary>
    public bool Exact { get; }

    /// <summary>The norm floor of normalize(·).</summary>
    public double Eps { get; }

    /// <summary>The dim moved to the front, or null for the module-dependent default.</summary>
    public long? Dim { get; }

    /// <summary>Applies spectral normalization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static T Apply<T>(T module, string name = "weight", long n_power_iterations = 1, bool exact = false, double eps = 1e-12, long? dim = null) where T : nn.Module =>
        Reparametrization.Apply(module, new SpectralNorm(n_power_iterations, exact, eps, dim), name);

    /// <summary>W as the matrix [size(dim), rest], as PyTorch's <c>reshape_weight_to_matrix</c>.</summary>
    public static Tensor ToMatrix(Tensor w, long dim)
    {
        if (dim != 0)
            w = w.permute(new[] { dim }.Concat(Enumerable.Range(0, (int)w.dim()).Select(i => (long)i).Where(i => i != dim)).ToArray());
        return w.reshape(w.shape[0], -1);
    }

    /// <summary>a / max(‖a‖, eps), as PyTorch's <c>F.normalize</c> of a vector.</summary>
    public static Tensor Normalize(Tensor a, double eps) => a / linalg.vector_norm(a).clamp_min(eps);

    private long DimFor(nn.Module module) => Dim ?? (module is ConvolutionTranspose ? 1 : 0);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape)
    {
        WeightRows.CheckRank(Name, shape);
        long dim = DimFor(module);
        if (dim >= shape.Length)
            throw new ArgumentException($"spectral: dim ({dim}) is out of range for the weight {Checks.Shape(shape)}; use 0..{shape.Length - 1}", "dim");
    }

    /// <inheritdoc />
    protected internal override void Initialize(WeightState state, Tensor weight)
    {
        if (Exact) return;
        using var _ = no_grad();
        var m = ToMatrix(weight, DimFor(state.Module));
        state.AddBuffer("u", Normalize(randn(new[] { m.shape[0] }, m.dtype, m.device, generator: _generator), Eps));
        state.AddBuffer("v", Normalize(randn(new[] { m.shape[1] }, m.dtype, m.device, generator: _generator), Eps));
    }

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var w = state.Parameter(RawSuffix);
        var m = ToMatrix(w, DimFor(state.Module));
        if (Exact) return w / linalg.svdvals(m)[0];
        var u = state.Buffer("u");
        var v = state.Buffer("v");
        if (training)
        {
            using (no_grad())
            {
                for (long i = 0; i < PowerIterations; i++)
                {
                    v.copy_(Normalize(m.t().mv(u), Eps));
                    u.copy_(Normalize(m.mv(v), Eps));
                }
            }
            u = u.clone();
            v = v.clone();
        }
        var sigma = u.dot(m.mv(v));
        return w / sigma;
    }
}
