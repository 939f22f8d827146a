using NormLab.Layers;
using NormLab.Operations;
using NormLab.Registry;
using NormLab.Tests.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Operations;

/// <summary>Switchable normalization, switchable whitening and mode normalization against written-out formulas in float64.</summary>
public class MultiModeTests
{
    private static void SetLogits(nn.Module layer, string name, params double[] values)
    {
        using var _ = no_grad();
        layer.get_parameter(name)!.copy_(tensor(values, ScalarType.Float64));
    }

    /// <summary>SN for [N, C, H, W] written out from the reference: IN unbiased, LN and BN derived.</summary>
    private static Tensor SwitchNormReference(Tensor x, Tensor mw, Tensor vw, Tensor? runMean, Tensor? runVar, bool training, double momentum = 0.1)
    {
        long n = x.shape[0], c = x.shape[1];
        var v = x.reshape(n, c, -1);
        var meanIn = v.mean(new long[] { 2 }, keepdim: true);
        var varIn = v.var(2, unbiased: true, keepdim: true);
        var meanLn = meanIn.mean(new long[] { 1 }, keepdim: true);
        var varLn = (varIn + meanIn * meanIn).mean(new long[] { 1 }, keepdim: true) - meanLn * meanLn;
        Tensor meanBn, varBn;
        if (training)
        {
            meanBn = meanIn.mean(new long[] { 0 }, keepdim: true);
            varBn = (varIn + meanIn * meanIn).mean(new long[] { 0 }, keepdim: true) - meanBn * meanBn;
            using (no_grad())
            {
                runMean!.mul_(1 - momentum).add_(meanBn.flatten() * momentum);
                runVar!.mul_(1 - momentum).add_(varBn.flatten() * momentum);
            }
        }
        else
        {
            meanBn = runMean!.view(1, c, 1);
            varBn = runVar!.view(1, c, 1);
        }
        var wm = mw.softmax(0);
        var wv = vw.softmax(0);
        var mean = wm[0] * meanIn + wm[1] * meanLn + wm[2] * meanBn;
        var variance = wv[0] * varIn + wv[1] * varLn + wv[2] * varBn;
        return ((v - mean) / (variance + 1e-5).sqrt()).reshape(x.shape);
    }

    [Fact]
    public void SwitchNorm_matches_the_reference_formula_in_train_and_eval()
    {
        var layer = NormRegistry.Create("sn", 6, 3, 4);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 90);
        SetLogits(layer, "mean_weight", 0.3, -0.2, 0.5);
        SetLogits(layer, "var_weight", -0.4, 0.1, 0.7);
        var rand = new Rand(91);
        var runMean = zeros(6, ScalarType.Float64);
        var runVar = zeros(6, ScalarType.Float64);
        var mw = layer.get_parameter("mean_weight")!;
        var vw = layer.get_parameter("var_weight")!;
        for (int step = 0; step < 2; step++)
        {
            var x = rand.Features(4, 6, 3, 4);
            var y = layer.call(x);
            var expected = SwitchNormReference(x, mw.detach(), vw.detach(), runMean, runVar, training: true) * layer.get_parameter("weight")!.view(1, 6, 1, 1) + layer.get_parameter("bias")!.view(1, 6, 1, 1);
            TensorAssert.Close(expected, y, what: "sn train output");
        }
        TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
        TensorAssert.Close(runVar, layer.get_buffer("running_var")!, what: "running_var");
        layer.eval();
        var xe = rand.Features(3, 6, 3, 4);
        var ye = layer.call(xe);
        var expectedEval = SwitchNormReference(xe, mw.detach(), vw.detach(), runMean, runVar, training: false) * layer.get_parameter("weight")!.view(1, 6, 1, 1) + layer.get_parameter("bias")!.view(1, 6, 1, 1);
        TensorAssert.Close(expectedEval, ye, what: "sn eval output");
    }

    [Fact]
    public void SwitchNorm_gradients_including_the_logits_match_the_reference()
    {
        var layer = NormRegistry.Create("sn", 6, 3, 4);
        layer.to(ScalarType.Float64);
        SetLogits(layer, "mean_weight", 0.3, -0.2, 0.5);
        SetLogits(layer, "var_weight", -0.4, 0.1, 0.7);
        var rand = new Rand(92);
        var x = rand.Features(4, 6, 3, 4);
        var g = rand.Normal(4, 6, 3, 4);
        var x1 = x.clone().requires_grad_(true);
        (layer.call(x1) * g).sum().backward();
        var x2 = x.clone().requires_grad_(true);
        var mw = tensor(new[] { 0.3, -0.2, 0.5 }).requires_grad_(true);
        var vw = tensor(new[] { -0.4, 0.1, 0.7 }).requires_grad_(true);
        (SwitchNormReference(x2, mw, vw, zeros(6, ScalarType.Float64), zeros(6, ScalarType.Float64), true) * g).sum().backward();
        TensorAssert.Close(x2.grad!, x1.grad!, what: "input gradient");
        TensorAssert.Close(mw.grad!, layer.get_parameter("mean_weight")!.grad!, what: "mean_weight gradient");
        TensorAssert.Close(vw.grad!, layer.get_parameter("var_weight")!.grad!, what: "var_weight gradient");
    }

    [Theory]
    [InlineData(0, "in")]
    [InlineData(1, "ln")]
    [InlineData(2, "bn")]
    public void SwitchNorm_with_one_hot_weights_reduces_to_one_statistic(int hot, string which)
    {
        var layer = NormRegistry.Create("sn(affine=false,eps=0)", 5, 4, 4);
        layer.to(ScalarType.Float64);
        var logits = new double[3];
        Array.Fill(logits, -1e4);
        logits[hot] = 1e4;
        SetLogits(layer, "mean_weight", logits);
        SetLogits(layer, "var_weight", logits);
        var x = new Rand(93).Features(3, 5, 4, 4);
        var v = x.reshape(3, 5, -1);
        long[] dims = which switch { "in" => new long[] { 2 }, "ln" => new long[] { 1, 2 }, _ => new long[] { 0, 2 } };
        var mean = v.mean(dims, keepdim: true);
        // SN's conventions: IN's variance is unbiased over H*W; LN's and BN's are derived from it, which
        // equals the mean of the per-instance unbiased variances plus the spread of the instance means.
        var varIn = v.var(2, unbiased: true, keepdim: true);
        var meanIn = v.mean(new long[] { 2 }, keepdim: true);
        var variance = which == "in" ? varIn : (varIn + meanIn.square()).mean(dims.Where(d => d != 2).ToArray(), keepdim: true) - mean.square();
        TensorAssert.Close(((v - mean) / variance.sqrt()).reshape(x.shape), layer.call(x), rtol: 1e-9, atol: 1e-9, what: which);
    }

    [Fact]
    public void SwitchNorm1d_mixes_layer_and_batch_statistics_with_unbiased_variances()
    {
        var layer = NormRegistry.Create("sn(affine=false)", 6);
        layer.to(ScalarType.Float64);
        SetLogits(layer, "mean_weight", 0.2, -0.3);
        SetLogits(layer, "var_weight", -0.5, 0.4);
        Assert.Equal(new long[] { 2 }, layer.get_parameter("mean_weight")!.shape);
        var x = new Rand(94).Features(5, 6);
        var wm = tensor(new[] { 0.2, -0.3 }).softmax(0);
        var wv = tensor(new[] { -0.5, 0.4 }).softmax(0);
        var mean = wm[0] * x.mean(new long[] { 1 }, keepdim: true) + wm[1] * x.mean(new long[] { 0 }, keepdim: true);
        var variance = wv[0] * x.var(1, unbiased: true, keepdim: true) + wv[1] * x.var(0, unbiased: true, keepdim: true);
        TensorAssert.Close((x - mean) / (variance + 1e-5).sqrt(), layer.call(x), what: "sn1d");
    }

    /// <summary>SW written out over explicit sample sets: BW over (N, H, W), IW over (H, W), LN over (C, H, W).</summary>
    private static Tensor SwitchWhitenReference(Tensor x, long d, string[] candidates, Tensor mw, Tensor vw, long t = 5, double eps = 1e-5)
    {
        long n = x.shape[0], c = x.shape[1], g = c / d;
        var iw = x.reshape(n * g, d, -1);
        var meanIn = iw.mean(new long[] { 2 }, keepdim: true);
        var covIn = (iw - meanIn).matmul((iw - meanIn).transpose(1, 2)) / iw.shape[2];
        var bw = x.transpose(0, 1).reshape(g, d, -1);
        var meanBw = bw.mean(new long[] { 2 }, keepdim: true);
        var covBw = (bw - meanBw).matmul((bw - meanBw).transpose(1, 2)) / bw.shape[2];
        var meanBwP = meanBw.unsqueeze(0).expand(n, g, d, 1).reshape(n * g, d, 1);
        var covBwP = covBw.unsqueeze(0).expand(n, g, d, d).reshape(n * g, d, d);
        var flat = x.reshape(n, -1);
        var meanLn = flat.mean(new long[] { 1 }).view(n, 1, 1, 1).expand(n, g, 1, 1).reshape(n * g, 1, 1);
        var varLn = flat.var(1, unbiased: true).view(n, 1, 1, 1).expand(n, g, 1, 1).reshape(n * g, 1, 1);
        var id = eye(d, dtype: x.dtype);
        var wm = mw.softmax(0);
        var wv = vw.softmax(0);
        Tensor mean = zeros_like(meanIn), cov = zeros_like(covIn);
        for (int k = 0; k < candidates.Length; k++)
        {
            var (m, s) = candidates[k] switch
            {
                "bw" => (meanBwP, covBwP),
                "iw" => (meanIn, covIn),
                "bn" => (meanBwP, diag_embed(covBwP.diagonal(0, -2, -1))),
                "in" => (meanIn, diag_embed(covIn.diagonal(0, -2, -1))),
                _ => (meanLn.expand(n * g, d, 1), varLn * id),
            };
            mean = mean + wm[k] * m;
            cov = cov + wv[k] * s;
        }
        cov = cov + id * eps;
        var trace = cov.diagonal(0, -2, -1).sum(new long[] { -1 }).view(-1, 1, 1);
        var p = id.expand_as(cov);
        for (int k = 0; k < t; k++) p = 1.5 * p - 0.5 * matrix_power(p, 3).matmul(cov / trace);
        return (p / trace.sqrt()).matmul(iw - mean).reshape(x.shape);
    }

    [Theory]
    [InlineData("bw+iw")]
    [InlineData("bw+iw+ln")]
    [InlineData("bw+iw+bn+in+ln")]
    [InlineData("iw+ln")]
    public void SwitchWhiten_matches_the_written_out_formula(string candidates)
    {
        var names = candidates.Split('+');
        var layer = NormRegistry.Create($"sw(group=4,candidates={candidates},affine=false)", 8, 3, 3);
        layer.to(ScalarType.Float64);
        var logits = Enumerable.Range(0, names.Length).Select(i => 0.3 * i - 0.2).ToArray();
        SetLogits(layer, "sw_mean_weight", logits);
        SetLogits(layer, "sw_var_weight", logits.Reverse().ToArray());
        var x = new Rand(95).Features(5, 8, 3, 3);
        var x1 = x.clone().requires_grad_(true);
        var x2 = x.clone().requires_grad_(true);
        var y = layer.call(x1);
        var yr = SwitchWhitenReference(x2, 4, names, tensor(logits), tensor(logits.Reverse().ToArray()));
        TensorAssert.Close(yr, y, what: "sw output");
        var g = new Rand(96).Normal(y.shape);
        (y * g).sum().backward();
        (yr * g).sum().backward();
        TensorAssert.Close(x2.grad!, x1.grad!, what: "sw input gradient");
        if (names.Contains("bw"))
        {
            var bw = x.transpose(0, 1).reshape(2, 4, -1);
            var meanBw = bw.mean(new long[] { 2 }, keepdim: true);
            var covBw = (bw - meanBw).matmul((bw - meanBw).transpose(1, 2)) / bw.shape[2];
            TensorAssert.Close(meanBw.reshape(-1) * 0.01, layer.get_buffer("running_mean")!, what: "running_mean");
            TensorAssert.Close(covBw * 0.01, layer.get_buffer("running_cov")!, what: "running_cov");
        }
    }

    [Theory]
    [InlineData("bw", "itn(group=4,T=5,eps=1e-5,affine=false)")]
    [InlineData("iw", "iw(method=itn,group=4,T=5,eps=1e-5,affine=false)")]
    public void SwitchWhiten_with_one_candidate_reduces_to_that_whitening(string candidate, string equivalent)
    {
        var sw = NormRegistry.Create($"sw(group=4,candidates={candidate},affine=false)", 8, 3, 3);
        var single = NormRegistry.Create(equivalent, 8, 3, 3);
        sw.to(ScalarType.Float64);
        single.to(ScalarType.Float64);
        var x = new Rand(97).Features(4, 8, 3, 3);
        TensorAssert.Close(single.call(x), sw.call(x), what: $"sw({candidate})");
    }

    [Fact]
    public void ModeNorm_matches_the_reference_formula_in_train_and_eval()
    {
        var layer = NormRegistry.Create("mn(modes=3,momentum=0.2)", 5, 2, 3);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 98);
        var gate = (nn.Module<Tensor, Tensor>)layer.named_children().Single(c => c.name == "gate").module;
        var rand = new Rand(99);
        var runMean = zeros(3, 5, ScalarType.Float64);
        var runSq = zeros(3, 5, ScalarType.Float64);
        Tensor Reference(Tensor x, Tensor gamma, Tensor beta, bool training)
        {
            var v = x.reshape(x.shape[0], 5, -1);
            var gk = gate.call(v.mean(new long[] { 2 })).softmax(1).t();
            var y = zeros_like(v);
            for (int k = 0; k < 3; k++)
            {
                var w = gk[k].view(-1, 1, 1);
                Tensor mu, variance;
                if (training)
                {
                    var nk = gk[k].sum();
                    mu = (w * v.mean(new long[] { 2 }, keepdim: true)).sum(new long[] { 0 }, keepdim: true) / nk;
                    variance = (w * (v - mu).square().mean(new long[] { 2 }, keepdim: true)).sum(new long[] { 0 }, keepdim: true) / nk;
                    using (no_grad())
                    {
                        runMean[k].mul_(0.8).add_(mu.flatten() * 0.2);
                        runSq[k].mul_(0.8).add_(((w * v.square().mean(new long[] { 2 }, keepdim: true)).sum(new long[] { 0 }, keepdim: true) / nk).flatten() * 0.2);
                    }
                }
                else
                {
                    mu = runMean[k].view(1, 5, 1);
                    variance = runSq[k].view(1, 5, 1) - mu.square();
                }
                y = y + w * (v - mu) / (variance + 1e-5).sqrt();
            }
            return y.reshape(x.shape) * gamma.view(1, 5, 1, 1) + beta.view(1, 5, 1, 1);
        }
        for (int step = 0; step < 2; step++)
            NativeConformanceTests.CompareStep(layer, rand.Features(6, 5, 2, 3), rand, (x, w, b) => Reference(x, w!, b!, true));
        TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
        TensorAssert.Close(runSq, layer.get_buffer("running_mean_square")!, what: "running_mean_square");
        layer.eval();
        NativeConformanceTests.CompareStep(layer, rand.Features(2, 5, 2, 3), rand, (x, w, b) => Reference(x, w!, b!, false));
    }

    [Theory]
    [InlineData("sn")]
    [InlineData("sn(using_bn=false)")]
    [InlineData("mn(modes=2)")]
    public void Gradients_match_finite_differences(string spec)
    {
        foreach (var train in new[] { true, false })
        {
            var layer = NormRegistry.Create(spec, 4, 3, 3);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 100);
            var x = new Rand(101).Features(4, 4, 3, 3);
            if (!train)
            {
                using (no_grad()) layer.call(x);
                layer.eval();
            }
            GradCheck.Module(layer, x);
        }
    }
}
