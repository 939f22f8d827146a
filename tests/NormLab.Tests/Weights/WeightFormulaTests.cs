using NormLab.Tests.Support;
using NormLab.Weights;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Weights;

/// <summary>
/// Every weight normalizer in float64 against a plain-formula reference written here (row loops, native
/// ops the implementation does not use), to 1e-10: the effective weight and the gradients of all its
/// parameters; and a finite-difference check of the gradients.
/// </summary>
public class WeightFormulaTests
{
    private static readonly long[] Conv = { 4, 3, 2, 2 };

    private static Tensor Raw(long seed, params long[] shape) => new Rand(seed).Normal(shape);

    /// <summary>Row i of w flattened, for row-by-row references.</summary>
    private static Tensor Row(Tensor w, long i) => w[i].flatten();

    private static Tensor Rows(Tensor w, Func<Tensor, long, Tensor> perRow) =>
        stack(Enumerable.Range(0, (int)w.shape[0]).Select(i => perRow(Row(w, i), i))).reshape(w.shape);

    // ---- weight normalization --------------------------------------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(-1)]
    public void Wn_matches_g_times_v_over_its_norm_for_every_dim(long dim)
    {
        var holder = WeightProbe.Holder(new WeightNorm(dim), Raw(1, Conv));
        var g = holder.get_parameter("weight_g")!;
        Assert.Equal(dim == -1 ? Array.Empty<long>() : Conv.Select((s, i) => i == dim ? s : 1L).ToArray(), g.shape);
        WeightProbe.Scale(holder, "weight_g", new Rand(2).Uniform(0.5, 2, g.shape));
        WeightProbe.MatchesReference(holder, s =>
        {
            var v = s["weight_v"];
            var others = Enumerable.Range(0, Conv.Length).Where(i => i != dim).Select(i => (long)i).ToArray();
            var norm = dim == -1 ? v.square().sum().sqrt() : v.square().sum(others, keepdim: true).sqrt();
            return s["weight_g"] * v / norm;
        });
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new WeightNorm(dim), Raw(3, 3, 2, 2, 2)));
    }

    [Fact]
    public void Wn_initial_effective_weight_is_the_original_weight()
    {
        var w = Raw(4, Conv);
        TensorAssert.Close(w, WeightProbe.Holder(new WeightNorm(), w).call(), what: "g = ||w|| gives w back");
    }

    // ---- centered weight normalization -----------------------------------------------------------

    private static Tensor CwnRow(Tensor r, double scale)
    {
        var c = r - r.sum() / r.shape[0];
        return scale * c / (c.dot(c).sqrt() + 1e-5);
    }

    [Fact]
    public void Cwn_matches_the_reference_per_row()
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new CenteredWeightNorm(), Raw(5, Conv)),
            s => Rows(s["weight_orig"], (r, _) => CwnRow(r, 1.414)));
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new CenteredWeightNorm(), Raw(6, 3, 2, 2)));
    }

    [Fact]
    public void Cwn_with_a_learned_scale_matches_and_differentiates_the_scale()
    {
        var holder = WeightProbe.Holder(new CenteredWeightNorm(learn_scale: true), Raw(7, Conv));
        Assert.Equal(new long[] { 4, 1, 1, 1 }, holder.get_parameter("weight_g")!.shape);
        WeightProbe.Scale(holder, "weight_g", new Rand(8).Uniform(0.5, 2, 4, 1, 1, 1));
        WeightProbe.MatchesReference(holder, s => Rows(s["weight_orig"], (r, i) => CwnRow(r, 1) * s["weight_g"][i].flatten()));
    }

    // ---- weight standardization ------------------------------------------------------------------

    [Fact]
    public void Ws_official_uses_the_unbiased_std_plus_eps()
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new WeightStandardization(), Raw(9, Conv)), s =>
        {
            var m = s["weight_orig"].reshape(4, -1);
            return ((m - m.mean(new long[] { 1 }, keepdim: true)) / (m.std(1, unbiased: true, keepdim: true) + 1e-5)).reshape(Conv);
        });
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new WeightStandardization(), Raw(10, 3, 2, 2)));
    }

    [Fact]
    public void Ws_biased_matches_timm_batch_norm_formulation()
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new WeightStandardization(WsEpsMode.Biased), Raw(11, Conv)),
            s => F.batch_norm(s["weight_orig"].reshape(1, 4, -1), null, null, training: true, momentum: 0, eps: 1e-6).reshape(Conv));
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new WeightStandardization(WsEpsMode.Biased), Raw(12, 3, 2, 2)));
    }

    // ---- spectral normalization ------------------------------------------------------------------

    /// <summary>PyTorch's training step: v = normalize(Wᵀu), u = normalize(Wv), σ = uᵀWv with u, v constant.</summary>
    private static Tensor SpectralReference(IReadOnlyDictionary<string, Tensor> s, int iterations)
    {
        var w = s["weight_orig"];
        var m = w.reshape(w.shape[0], -1);
        var u = s["weight_u"];
        var v = s["weight_v"];
        for (int i = 0; i < iterations; i++)
        {
            var a = m.detach().t().matmul(u);
            v = a / a.norm();
            var b = m.detach().matmul(v);
            u = b / b.norm();
        }
        return w / (u * m.matmul(v)).sum();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Spectral_training_forward_matches_the_power_iteration_with_constant_u_v(int iterations)
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new SpectralNorm(iterations, generator: new Generator(13)), Raw(14, Conv)),
            s => SpectralReference(s, iterations));
    }

    [Fact]
    public void Spectral_eval_forward_uses_the_stored_vectors_and_passes_finite_differences()
    {
        var holder = WeightProbe.Holder(new SpectralNorm(generator: new Generator(15)), Raw(16, Conv));
        holder.eval();
        WeightProbe.MatchesReference(holder, s => SpectralReference(s, 0));
        var small = WeightProbe.Holder(new SpectralNorm(generator: new Generator(17)), Raw(18, 3, 2, 2));
        small.eval();
        WeightProbe.FiniteDifferences(small);
    }

    [Fact]
    public void Spectral_exact_divides_by_the_largest_singular_value()
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new SpectralNorm(exact: true), Raw(19, Conv)), s =>
        {
            var w = s["weight_orig"];
            var m = w.reshape(4, -1);
            // the largest eigenvalue of MᵀM is σ²
            var sigma = linalg.eigvalsh(m.t().matmul(m)).max().sqrt();
            return w / sigma;
        });
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new SpectralNorm(exact: true), Raw(20, 3, 2, 2)));
    }

    // ---- orthogonal weight normalization ---------------------------------------------------------

    /// <summary>The reference's route: SVD of S = ZcZcᵀ per group, W = U·diag(σ^(−1/2))·Uᵀ·Zc.</summary>
    private static Tensor OwnReference(Tensor w, long rowsPerGroup)
    {
        var groups = new List<Tensor>();
        var m = w.reshape(w.shape[0], -1);
        for (long start = 0; start < w.shape[0]; start += rowsPerGroup)
        {
            var z = m[TensorIndex.Slice(start, start + rowsPerGroup)];
            var zc = z - z.mean(new long[] { 1 }, keepdim: true);
            var (u, sv, _) = linalg.svd(zc.matmul(zc.t()));
            groups.Add(u.matmul(diag(sv.pow(-0.5))).matmul(u.t()).matmul(zc));
        }
        return cat(groups).reshape(w.shape);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(2L)]
    public void Own_matches_the_svd_route_of_the_reference(long? group)
    {
        WeightProbe.MatchesReference(WeightProbe.Holder(new OrthogonalWeightNorm(group), Raw(21, Conv)),
            s => OwnReference(s["weight_orig"], group ?? 4));
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new OrthogonalWeightNorm(group), Raw(22, 4, 3, 2)));
    }

    // ---- ONI ---------------------------------------------------------------------------------------

    /// <summary>Newton's iteration per group with 2-D matrix products; columns when rows &gt; cols.</summary>
    private static Tensor OniReference(Tensor w, long rowsPerGroup, int T, double scale)
    {
        var m = w.reshape(w.shape[0], -1);
        bool columns = m.shape[0] > m.shape[1];
        var groups = new List<Tensor>();
        for (long start = 0; start < m.shape[0]; start += rowsPerGroup)
        {
            var z = m[TensorIndex.Slice(start, start + rowsPerGroup)];
            var zc = z - z.mean(new long[] { 1 }, keepdim: true);
            var s = columns ? zc.t().mm(zc) : zc.mm(zc.t());
            var eye = torch.eye(s.shape[0], dtype: ScalarType.Float64);
            s = s + 1e-5 * eye;
            var fro = s.square().sum().sqrt();
            var sn = s / fro;
            var b = eye;
            for (int t = 0; t < T; t++) b = 1.5 * b - 0.5 * b.mm(b).mm(b).mm(sn);
            groups.Add((columns ? zc.mm(b) : b.mm(zc)) / fro.sqrt() * scale);
        }
        return cat(groups).reshape(w.shape);
    }

    [Theory]
    [InlineData(new long[] { 4, 3, 2, 2 }, null, 5)]
    [InlineData(new long[] { 4, 3, 2, 2 }, 2L, 3)]
    [InlineData(new long[] { 8, 3 }, null, 5)]
    [InlineData(new long[] { 8, 3 }, 4L, 2)]
    public void Oni_matches_newton_iteration_per_group_in_both_variants(long[] shape, long? group, int T)
    {
        Assert.Equal(shape[0] > shape.Skip(1).Aggregate(1L, (a, b) => a * b), OrthogonalizationByNewton.UsesColumns(shape));
        WeightProbe.MatchesReference(WeightProbe.Holder(new OrthogonalizationByNewton(T, group), Raw(23, shape)),
            s => OniReference(s["weight_orig"], group ?? shape[0], T, 1.414));
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new OrthogonalizationByNewton(T, group), Raw(24, shape)));
    }

    // ---- normalization propagation ------------------------------------------------------------------

    [Fact]
    public void NormProp_divides_rows_by_1_21_times_their_norm_and_scales_by_gamma()
    {
        var holder = WeightProbe.Holder(new NormProp(), Raw(25, Conv));
        TensorAssert.Close(ones(4, 1, 1, 1, ScalarType.Float64), holder.get_parameter("weight_g")!, what: "gamma starts at 1");
        WeightProbe.Scale(holder, "weight_g", new Rand(26).Uniform(0.5, 2, 4, 1, 1, 1));
        WeightProbe.MatchesReference(holder, s => Rows(s["weight_orig"], (r, i) => s["weight_g"][i].flatten() * r / (1.21 * r.dot(r).sqrt())));
        WeightProbe.FiniteDifferences(WeightProbe.Holder(new NormProp(), Raw(27, 3, 2, 2)));
    }

    [Fact]
    public void NormPropReLU_removes_the_analytic_relu_statistics()
    {
        Assert.Equal(Math.Sqrt(1 / (2 * Math.PI)), NormPropReLU.Mean, 15);
        Assert.Equal(0.5 * (1 - 1 / Math.PI), NormPropReLU.Variance, 15);
        var x = new Rand(28).Normal(7, 5);
        var y = new NormPropReLU().call(x);
        TensorAssert.Close((x.clamp_min(0) - 0.3989422804014327) / 0.5838193701035489, y, what: "formula");
        // on many standard normal samples the output is close to zero mean, unit variance
        var z = new NormPropReLU().call(new Rand(29).Normal(100_000));
        Assert.InRange(z.mean().item<double>(), -0.015, 0.015);
        Assert.InRange((z - z.mean()).square().mean().item<double>(), 0.97, 1.03);
    }
}
