using NormLab.Tests.Support;
using NormLab.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Weights;

/// <summary>
/// What each weight normalizer guarantees: spectral norm's σ and update rule, orthonormal OWN rows, ONI
/// converging with T, scale invariance of WN, CWN and WS.
/// </summary>
public class WeightPropertyTests
{
    /// <summary>A [rows, cols] matrix with the given singular values and random singular vectors.</summary>
    private static Tensor WithSingularValues(long seed, long rows, long cols, params double[] sv)
    {
        var rand = new Rand(seed);
        var (u, _) = linalg.qr(rand.Normal(rows, sv.Length));
        var (v, _) = linalg.qr(rand.Normal(cols, sv.Length));
        return u.matmul(diag(tensor(sv, ScalarType.Float64))).matmul(v.t());
    }

    // ---- spectral normalization ------------------------------------------------------------------

    [Fact]
    public void Spectral_sigma_agrees_with_the_largest_singular_value_after_convergence()
    {
        var w = WithSingularValues(1, 5, 12, 5, 2, 1, 0.5, 0.25).reshape(5, 3, 2, 2);
        var holder = WeightProbe.Holder(new SpectralNorm(n_power_iterations: 40, generator: new Generator(2)), w);
        var effective = holder.call();
        var m = w.reshape(5, -1);
        var u = holder.get_buffer("weight_u")!;
        var v = holder.get_buffer("weight_v")!;
        double sigma = u.dot(m.mv(v)).item<double>();
        double svd = linalg.svdvals(m)[0].item<double>();
        Assert.Equal(5.0, svd, 12);
        Assert.True(Math.Abs(sigma - svd) <= 1e-10 * svd, $"sigma {sigma:R} vs SVD {svd:R}");
        double normalized = linalg.svdvals(effective.reshape(5, -1))[0].item<double>();
        Assert.True(Math.Abs(normalized - 1) <= 1e-10, $"spectral norm of the effective weight {normalized:R}");
    }

    [Fact]
    public void Spectral_one_power_iteration_follows_pytorchs_update_rule_exactly()
    {
        var rand = new Rand(3);
        var w = rand.Normal(4, 3, 2);
        var holder = WeightProbe.Holder(new SpectralNorm(generator: new Generator(4)), w);
        var u0 = rand.Normal(4);
        using (no_grad()) holder.get_buffer("weight_u")!.copy_(u0);

        var effective = holder.call();

        // PyTorch, SpectralNorm.compute_weight with do_power_iteration=True, n_power_iterations=1:
        //   v = normalize(W_mat^T u, dim=0, eps=1e-12);  u = normalize(W_mat v, dim=0, eps=1e-12)
        //   sigma = dot(u, W_mat v);  weight = weight_orig / sigma
        // where normalize(a) = a / max(||a||, eps) and W_mat = weight_orig.reshape(4, -1).
        var m = w.reshape(4, -1);
        var a = m.t().mv(u0);
        var v1 = a / Math.Max(a.norm().item<double>(), 1e-12);
        var b = m.mv(v1);
        var u1 = b / Math.Max(b.norm().item<double>(), 1e-12);
        var sigma = u1.dot(m.mv(v1));
        TensorAssert.Close(v1, holder.get_buffer("weight_v")!, 1e-15, 1e-15, "v after one iteration");
        TensorAssert.Close(u1, holder.get_buffer("weight_u")!, 1e-15, 1e-15, "u after one iteration");
        TensorAssert.Close(w / sigma, effective, 1e-15, 1e-15, "weight_orig / sigma");

        // Backward with u, v constant: d/dW sum(G * W/sigma) = G/sigma - (sum(G * W)/sigma^2) u vᵀ.
        var g = rand.Normal(4, 3, 2);
        (effective * g).sum().backward();
        double s = sigma.item<double>();
        var expectedGrad = g / s - (g * w).sum() / (s * s) * u1.outer(v1).reshape(4, 3, 2);
        TensorAssert.Close(expectedGrad, holder.get_parameter("weight_orig")!.grad!, what: "gradient with constant u, v");
    }

    [Fact]
    public void Spectral_eval_does_not_iterate_and_uses_the_stored_vectors()
    {
        var w = new Rand(5).Normal(3, 4);
        var holder = WeightProbe.Holder(new SpectralNorm(generator: new Generator(6)), w);
        holder.call(); // training: moves u and v
        holder.eval();
        var u = holder.get_buffer("weight_u")!.clone();
        var v = holder.get_buffer("weight_v")!.clone();
        var first = holder.call();
        var second = holder.call();
        Assert.True(TensorAssert.Same(u, holder.get_buffer("weight_u")!), "u unchanged in eval");
        Assert.True(TensorAssert.Same(v, holder.get_buffer("weight_v")!), "v unchanged in eval");
        Assert.True(TensorAssert.Same(first, second), "eval is deterministic");
        TensorAssert.Close(w / u.dot(w.mv(v)), first, what: "stored-vector sigma");
    }

    [Fact]
    public void Spectral_initial_vectors_are_unit_and_transposed_convolutions_use_dim_1()
    {
        var conv = nn.ConvTranspose2d(3, 5, 2);
        conv.to(ScalarType.Float64);
        SpectralNorm.Apply(conv);
        var u = conv.get_buffer("weight_u")!;
        var v = conv.get_buffer("weight_v")!;
        Assert.Equal(new long[] { 5 }, u.shape); // weight [3, 5, 2, 2]: rows are dim 1
        Assert.Equal(new long[] { 12 }, v.shape);
        Assert.Equal(1.0, u.norm().item<double>(), 12);
        Assert.Equal(1.0, v.norm().item<double>(), 12);
        var x = new Rand(7).Normal(1, 3, 4, 4);
        Assert.Equal(new long[] { 1, 5, 5, 5 }, conv.call(x).shape);
    }

    // ---- orthogonal weight normalization ---------------------------------------------------------

    [Theory]
    [InlineData(new long[] { 6, 3, 3 }, null)]
    [InlineData(new long[] { 6, 3, 3 }, 2L)]
    [InlineData(new long[] { 8, 20 }, 4L)]
    public void Own_rows_are_orthonormal_within_each_group(long[] shape, long? group)
    {
        var w = new Rand(8).Normal(shape).reshape(shape[0], -1) + 3; // off-center rows
        var y = WeightProbe.Holder(new OrthogonalWeightNorm(group), w.reshape(shape)).call().reshape(shape[0], -1);
        long rows = group ?? shape[0];
        for (long s = 0; s < shape[0]; s += rows)
        {
            var block = y[TensorIndex.Slice(s, s + rows)];
            TensorAssert.Close(eye(rows, dtype: ScalarType.Float64), block.matmul(block.t()), 0, 1e-10, $"rows {s}..{s + rows - 1}");
            TensorAssert.Close(zeros(rows, ScalarType.Float64), block.sum(1), 0, 1e-10, "rows are centered");
        }
    }

    // ---- ONI -------------------------------------------------------------------------------------

    /// <summary>‖WWᵀ/s² − I‖_F per group (rows), or ‖WᵀW/s² − P‖_F with P the projector off the all-ones
    /// direction that row centering removes (columns).</summary>
    private static double OrthogonalityError(Tensor y, long rowsPerGroup, double scale)
    {
        var m = y.reshape(y.shape[0], -1) / scale;
        bool columns = m.shape[0] > m.shape[1];
        double total = 0;
        for (long s = 0; s < m.shape[0]; s += rowsPerGroup)
        {
            var block = m[TensorIndex.Slice(s, s + rowsPerGroup)];
            long d = block.shape[1];
            var gram = columns ? block.t().matmul(block) : block.matmul(block.t());
            var target = columns ? eye(d, dtype: ScalarType.Float64) - full(d, d, 1.0 / d, ScalarType.Float64) : eye(block.shape[0], dtype: ScalarType.Float64);
            total += (gram - target).square().sum().item<double>();
        }
        return Math.Sqrt(total);
    }

    [Theory]
    [InlineData(new long[] { 8, 4, 3, 3 }, null)]
    [InlineData(new long[] { 8, 4, 3, 3 }, 4L)]
    [InlineData(new long[] { 24, 6 }, null)]
    public void Oni_orthogonality_error_decreases_with_T(long[] shape, long? group)
    {
        var w = new Rand(9).Normal(shape) * new Rand(10).Uniform(0.2, 3, shape[0]).reshape(new[] { shape[0] }.Concat(Enumerable.Repeat(1L, shape.Length - 1)).ToArray());
        var errors = Enumerable.Range(0, 8)
            .Select(T => OrthogonalityError(WeightProbe.Holder(new OrthogonalizationByNewton(T, group), w).call(), group ?? shape[0], 1.414))
            .ToArray();
        for (int t = 1; t < errors.Length; t++)
            Assert.True(errors[t] < errors[t - 1], $"error at T={t} ({errors[t]:E3}) is not below T={t - 1} ({errors[t - 1]:E3}); all: {string.Join(", ", errors.Select(e => e.ToString("E3")))}");
        Assert.True(errors[^1] < 0.1 * errors[0], $"T=7 error {errors[^1]:E3} vs T=0 {errors[0]:E3}");
    }

    // ---- scale invariance ------------------------------------------------------------------------

    public static TheoryData<string> ScaleInvariant() => new() { "wn", "cwn", "ws-official", "ws-biased" };

    private static WeightNormalizer Invariant(string name, bool noEps) => name switch
    {
        "wn" => new WeightNorm(),
        "cwn" => new CenteredWeightNorm(eps: noEps ? 0 : 1e-5),
        "ws-official" => new WeightStandardization(WsEpsMode.Official, noEps ? 0 : null),
        _ => new WeightStandardization(WsEpsMode.Biased, noEps ? 0 : null),
    };

    [Theory]
    [MemberData(nameof(ScaleInvariant))]
    public void Output_is_invariant_to_scaling_the_raw_weight(string name)
    {
        var w = new Rand(11).Normal(4, 3, 3);
        var rowScales = new Rand(12).Uniform(0.1, 10, 4, 1, 1);
        string raw = name == "wn" ? "weight_v" : "weight_orig";
        foreach (bool noEps in new[] { true, false })
        {
            var a = WeightProbe.Holder(Invariant(name, noEps), w);
            var b = WeightProbe.Holder(Invariant(name, noEps), w);
            var c = WeightProbe.Holder(Invariant(name, noEps), w);
            using (no_grad())
            {
                b.get_parameter(raw)!.mul_(7.5);       // one scale for the whole weight
                c.get_parameter(raw)!.mul_(rowScales); // a scale per output row
            }
            var ya = a.call();
            // eps breaks exact invariance by a relative O(eps / row scale) at most
            double tol = noEps ? 1e-12 : 1e-4;
            TensorAssert.Close(ya, b.call(), tol, tol, $"{name} (eps {(noEps ? "0" : "default")}) with v scaled by 7.5");
            TensorAssert.Close(ya, c.call(), tol, tol, $"{name} (eps {(noEps ? "0" : "default")}) with rows scaled");
            if (!noEps && name != "wn")
                Assert.False(TensorAssert.Same(ya, c.call()), "with eps the invariance is only approximate");
        }
    }

    [Fact]
    public void A_weight_normalized_layer_output_does_not_change_when_v_is_scaled()
    {
        var lin = nn.Linear(6, 3);
        lin.to(ScalarType.Float64);
        WeightNorm.Apply(lin);
        var x = new Rand(13).Normal(5, 6);
        var y = lin.call(x);
        using (no_grad()) lin.get_parameter("weight_v")!.mul_(4.0);
        TensorAssert.Close(y, lin.call(x), 1e-12, 1e-12, "layer output with v scaled by 4");
    }
}
