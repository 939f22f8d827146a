using NormLab.Layers;
using NormLab.Operations;
using NormLab.Registry;
using NormLab.Tests.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Operations;

/// <summary>
/// Batch and instance whitening against plain formulas in float64: the covariance is written out, the
/// matrix comes from torch.linalg.eigh / cholesky with autograd, or from the Newton iteration written out.
/// </summary>
public class WhiteningTests
{
    /// <summary>Correlated, anisotropic features [N, C, H, W] with well-separated covariance eigenvalues.</summary>
    private static Tensor Correlated(long seed, params long[] shape)
    {
        var rand = new Rand(seed);
        var x = rand.Normal(shape);
        var mix = rand.Normal(shape[1], shape[1]) * 0.6 + eye(shape[1], dtype: ScalarType.Float64) * linspace(0.5, 3, shape[1], dtype: ScalarType.Float64);
        return einsum("dc,nc...->nd...", mix, x) + rand.Uniform(-1, 1, 1, shape[1], 1, 1);
    }

    /// <summary>Reference whitening matrix of Σ [P, d, d], written out with autograd-capable ops.</summary>
    private static Tensor ReferenceMatrix(string method, Tensor sigma, long t = 5)
    {
        switch (method)
        {
            case "zca":
            {
                var (l, u) = linalg.eigh(sigma);
                return u.matmul(diag_embed(l.rsqrt())).matmul(u.transpose(-2, -1));
            }
            case "pca":
            {
                var (l, u) = linalg.eigh(sigma);
                l = l.flip(-1);
                u = u.flip(-1);
                return diag_embed(l.rsqrt()).matmul(u.transpose(-2, -1));
            }
            case "cd":
                return linalg.inv(linalg.cholesky(sigma));
            default:
            {
                var trace = sigma.diagonal(0, -2, -1).sum(new long[] { -1 }).view(-1, 1, 1);
                var sn = sigma / trace;
                var p = eye(sigma.shape[1], dtype: sigma.dtype).expand_as(sigma);
                for (int k = 0; k < t; k++) p = 1.5 * p - 0.5 * matrix_power(p, 3).matmul(sn);
                return p / trace.sqrt();
            }
        }
    }

    /// <summary>Batch whitening written out: groups of d contiguous channels, samples over (N, H, W).</summary>
    private static (Tensor Y, Tensor Mean, Tensor W) ReferenceBatchWhitening(string method, Tensor x, long d, double eps, long t = 5)
    {
        long n = x.shape[0], c = x.shape[1], g = c / d;
        var m = x.transpose(0, 1).reshape(g, d, -1);
        var mean = m.mean(new long[] { -1 }, keepdim: true);
        var xc = m - mean;
        var sigma = xc.matmul(xc.transpose(-2, -1)) / m.shape[2] + eye(d, dtype: x.dtype) * eps;
        var w = ReferenceMatrix(method, sigma, t);
        var y = w.matmul(xc).reshape(new[] { c, n }.Concat(x.shape.Skip(2)).ToArray()).transpose(0, 1);
        return (y, mean.reshape(-1), w);
    }

    private static string Spec(string method, long d) => method == "itn" ? $"itn(T=5,group={d},momentum=0.3)" : $"{method}(group={d},momentum=0.3)";

    [Theory]
    [InlineData("zca", 4)]
    [InlineData("pca", 4)]
    [InlineData("cd", 4)]
    [InlineData("itn", 4)]
    [InlineData("zca", 8)]
    [InlineData("itn", 2)]
    public void Batch_whitening_matches_the_written_out_formula(string method, long d)
    {
        double eps = method == "itn" ? 1e-5 : 1e-3;
        var layer = NormRegistry.Create(Spec(method, d), 8, 3, 3);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 61);
        var rand = new Rand(62);
        var runMean = zeros(8, ScalarType.Float64);
        var runWm = eye(d, dtype: ScalarType.Float64).expand(8 / d, d, d).contiguous();
        for (int step = 0; step < 2; step++)
        {
            var x = Correlated(63 + step, 5, 8, 3, 3);
            NativeConformanceTests.CompareStep(layer, x, rand, (xi, w, b) =>
            {
                var (y, mean, wm) = ReferenceBatchWhitening(method, xi, d, eps);
                using (no_grad())
                {
                    runMean.mul_(0.7).add_(mean * 0.3);
                    runWm.mul_(0.7).add_(wm * 0.3);
                }
                return y * w!.view(1, 8, 1, 1) + b!.view(1, 8, 1, 1);
            });
        }
        TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
        TensorAssert.Close(runWm, layer.get_buffer("running_wm")!, what: "running_wm");

        layer.eval();
        var xe = Correlated(70, 3, 8, 3, 3);
        NativeConformanceTests.CompareStep(layer, xe, rand, (xi, w, b) =>
        {
            var m = xi.transpose(0, 1).reshape(8 / d, d, -1);
            var y = runWm.matmul(m - runMean.view(8 / d, d, 1)).reshape(8, 3, 3, 3).transpose(0, 1);
            return y * w!.view(1, 8, 1, 1) + b!.view(1, 8, 1, 1);
        });
    }

    [Theory]
    [InlineData("zca")]
    [InlineData("itn")]
    [InlineData("cd")]
    public void Tracking_the_covariance_builds_the_matrix_at_eval(string method)
    {
        double eps = method == "itn" ? 1e-5 : 1e-3;
        var layer = NormRegistry.Create(Spec(method, 4).Replace(")", ",track=cov)"), 8, 3, 3);
        layer.to(ScalarType.Float64);
        var x = Correlated(71, 6, 8, 3, 3);
        using (no_grad()) layer.call(x);
        var m = x.transpose(0, 1).reshape(2, 4, -1);
        var xc = m - m.mean(new long[] { -1 }, keepdim: true);
        var sigma = xc.matmul(xc.transpose(-2, -1)) / m.shape[2] + eye(4, dtype: ScalarType.Float64) * eps;
        var runCov = eye(4, dtype: ScalarType.Float64) * 0.7 + sigma * 0.3;
        TensorAssert.Close(runCov, layer.get_buffer("running_cov")!, what: "running_cov");
        Assert.Null(layer.get_buffer("running_wm"));
        layer.eval();
        var xe = Correlated(72, 2, 8, 3, 3);
        var runMean = m.mean(new long[] { -1 }) * 0.3;
        var me = xe.transpose(0, 1).reshape(2, 4, -1);
        var expected = ReferenceMatrix(method, runCov).matmul(me - runMean.view(2, 4, 1)).reshape(8, 2, 3, 3).transpose(0, 1);
        using var _ = no_grad();
        TensorAssert.Close(expected, layer.call(xe), what: "eval output from running_cov");
    }

    [Theory]
    [InlineData("zca")]
    [InlineData("itn")]
    [InlineData("pca")]
    [InlineData("cd")]
    public void Instance_whitening_matches_per_sample_formula(string method)
    {
        double eps = method == "itn" ? 1e-5 : 1e-3;
        var layer = NormRegistry.Create($"iw(method={method},group=4)", 8, 4, 4);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 73);
        var rand = new Rand(74);
        NativeConformanceTests.CompareStep(layer, Correlated(75, 3, 8, 4, 4), rand, (xi, w, b) =>
        {
            var m = xi.reshape(3 * 2, 4, 16);
            var xc = m - m.mean(new long[] { -1 }, keepdim: true);
            var sigma = xc.matmul(xc.transpose(-2, -1)) / 16 + eye(4, dtype: ScalarType.Float64) * eps;
            var y = ReferenceMatrix(method, sigma).matmul(xc).reshape(3, 8, 4, 4);
            return y * w!.view(1, 8, 1, 1) + b!.view(1, 8, 1, 1);
        });
    }

    [Theory]
    [InlineData("zca(group=4)")]
    [InlineData("pca(group=4)")]
    [InlineData("cd(group=4)")]
    [InlineData("itn(group=4,T=3)")]
    [InlineData("iw(method=zca,group=4)")]
    [InlineData("iw(method=itn,group=2)")]
    [InlineData("sw(group=4)")]
    [InlineData("sw(group=2,candidates=bw+iw+bn+in+ln)")]
    public void Gradients_match_finite_differences(string spec)
    {
        foreach (var train in new[] { true, false })
        {
            // 4x4 positions: per-sample covariances from 16 samples are well conditioned, so central
            // differences are accurate (with 9 samples their truncation error reaches 1e-3 relative).
            var layer = NormRegistry.Create(spec, 4, 4, 4);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 76);
            var x = Correlated(77, 4, 4, 4, 4);
            if (!train)
            {
                using (no_grad()) layer.call(x);
                layer.eval();
            }
            GradCheck.Module(layer, x, h: 1e-4);
        }
    }

    [Theory]
    [InlineData("zca")]
    [InlineData("cd")]
    public void Exact_whitening_gives_identity_output_covariance(string method)
    {
        var layer = NormRegistry.Create($"{method}(group=8,eps=0,affine=false)", 8, 4, 4);
        layer.to(ScalarType.Float64);
        var y = layer.call(Correlated(78, 6, 8, 4, 4));
        var m = y.transpose(0, 1).reshape(8, -1);
        var cov = (m - m.mean(new long[] { 1 }, keepdim: true)).matmul((m - m.mean(new long[] { 1 }, keepdim: true)).t()) / m.shape[1];
        TensorAssert.Close(eye(8, dtype: ScalarType.Float64), cov, rtol: 0, atol: 1e-8, what: "output covariance");
    }

    [Fact]
    public void IterNorm_whitening_error_decreases_monotonically_with_T()
    {
        var x = Correlated(79, 8, 8, 4, 4) * linspace(0.3, 2, 8, dtype: ScalarType.Float64).view(1, 8, 1, 1);
        double previous = double.PositiveInfinity;
        var errors = new List<double>();
        foreach (var t in new[] { 1, 2, 3, 4, 5, 7, 10 })
        {
            var layer = NormRegistry.Create($"itn(group=8,T={t},eps=0,affine=false)", 8, 4, 4);
            layer.to(ScalarType.Float64);
            var m = layer.call(x).transpose(0, 1).reshape(8, -1);
            var cov = m.matmul(m.t()) / m.shape[1];
            double error = linalg.norm(cov - eye(8, dtype: ScalarType.Float64)).item<double>();
            errors.Add(error);
            Assert.True(error < previous, $"error at T={t} ({error}) is not below the previous ({previous}); errors: {string.Join(", ", errors)}");
            previous = error;
        }
        Assert.True(errors[^1] < 0.5 * errors[0], $"IterNorm does not converge: {string.Join(", ", errors)}");
    }

    [Fact]
    public void ZCA_is_rotation_equivariant_and_PCA_is_not()
    {
        var x = Correlated(80, 8, 4, 4, 4);
        var (q, _) = linalg.qr(new Rand(81).Normal(4, 4));
        var rotated = einsum("dc,nc...->nd...", q, x);
        Tensor Whiten(string method, Tensor input)
        {
            var layer = NormRegistry.Create($"{method}(group=4,affine=false)", 4, 4, 4);
            layer.to(ScalarType.Float64);
            return layer.call(input);
        }
        var zcaOfRotated = Whiten("zca", rotated);
        var rotatedZca = einsum("dc,nc...->nd...", q, Whiten("zca", x));
        TensorAssert.Close(rotatedZca, zcaOfRotated, rtol: 1e-9, atol: 1e-9, what: "ZCA(Rx) vs R ZCA(x)");
        var pcaOfRotated = Whiten("pca", rotated);
        var rotatedPca = einsum("dc,nc...->nd...", q, Whiten("pca", x));
        Assert.True(TensorAssert.RelativeError(rotatedPca, pcaOfRotated) > 0.1, "PCA whitening should not commute with rotations");
        // PCA's output is the same (up to signs) whatever the rotation: it discards the input's orientation.
        TensorAssert.Close(Whiten("pca", x).abs(), pcaOfRotated.abs(), rtol: 1e-8, atol: 1e-8, what: "|PCA(Rx)| vs |PCA(x)|");
    }

    public static TheoryData<string, string> RobustnessCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var spec in new[] { "zca(group=8)", "pca(group=8)", "cd(group=8)", "itn(group=8)", "iw(method=zca,group=8)", "iw(method=itn,group=8)", "sw(group=8)", "sw(group=8,candidates=bw+iw+bn+in+ln)" })
        foreach (var kind in new[] { "rank-deficient", "repeated", "near-zero", "constant" })
            data.Add(spec, kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(RobustnessCases))]
    public void Degenerate_batches_give_finite_outputs_and_gradients(string spec, string kind)
    {
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            var rand = new Rand(82);
            Tensor x = kind switch
            {
                "rank-deficient" => rand.Normal(2, 8, 1, 2),
                "repeated" => cat(new[] { rand.Normal(6, 4, 3, 3), rand.Normal(6, 4, 3, 3) }, 1) * 0 + rand.Normal(6, 1, 3, 3).expand(6, 8, 3, 3) + rand.Normal(6, 8, 3, 3) * 1e-9,
                "near-zero" => rand.Normal(6, 8, 3, 3) * cat(new[] { ones(6, dtype: ScalarType.Float64), full(2, 1e-7, dtype: ScalarType.Float64) }).view(1, 8, 1, 1),
                _ => ones(6, 8, 3, 3, dtype: ScalarType.Float64),
            };
            var layer = NormRegistry.Create(spec, 8, x.shape[2], x.shape[3]);
            layer.to(dtype);
            var xi = x.to(dtype).requires_grad_(true);
            var y = layer.call(xi);
            Assert.True(y.isfinite().all().item<bool>(), $"{spec} {kind} {dtype}: output not finite");
            (y * rand.Normal(y.shape).to(dtype)).sum().backward();
            Assert.True(xi.grad!.isfinite().all().item<bool>(), $"{spec} {kind} {dtype}: input gradient not finite");
            foreach (var (name, p) in layer.named_parameters())
                Assert.True(p.grad!.isfinite().all().item<bool>(), $"{spec} {kind} {dtype}: gradient of {name} not finite");
        }
    }

    [Theory]
    [InlineData("zca(group=16)")]
    [InlineData("itn(group=5)")]
    [InlineData("iw(group=5)")]
    [InlineData("sw(group=7)")]
    public void Group_not_dividing_the_channels_is_a_clear_error(string spec)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create(spec, 24, 4, 4));
        Assert.Matches(@"group \(\d+\) must divide num_channels \(24\)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Whitening_needs_more_than_one_sample_in_training()
    {
        var layer = NormRegistry.Create("zca(group=4)", 4);
        var e = Assert.ThrowsAny<ArgumentException>(() => layer.call(ones(1, 4)));
        Assert.Contains("1 value per statistic", e.Message);
    }

    [Fact]
    public void Whitening_preset_rejects_non_group_areas()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new NormLab.Framework.Normalizer("x", NormLab.Framework.ReductionArea.Positional(4),
            new ZcaWhitening(), new NormLab.Recoveries.IdentityRecovery()));
        Assert.Contains("sample axes", e.Message);
    }
}
