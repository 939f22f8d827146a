using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Mode Normalization (Deecke, Murray &amp; Bilen, ICLR 2019): K modes with soft assignments
/// g = softmax(W·φ(x) + b) from a gating network on spatially pooled features;
/// μ_k = Σ_n g_nk·E_HW[x_n] / Σ_n g_nk, σ²_k = Σ_n g_nk·E_HW[(x_n − μ_k)²] / Σ_n g_nk,
/// x̂_n = Σ_k g_nk·(x_n − μ_k)/sqrt(σ²_k + eps).
/// </summary>
/// <remarks>
/// Semantics of ldeecke/mn-torch (<c>ModeNorm</c>): per-channel moments per mode, biased; the gate is a
/// linear map C → K (submodule <c>gate</c>) with weight initialized to 1/K plus 0.01·N(0, 1); the
/// running estimate tracks the gate-weighted E[x] (<c>running_mean</c>, [K, C]) and E[x²]
/// (<c>running_mean_square</c>), init 0; eval uses μ_k = E[x] and σ²_k = E[x²] − μ_k², with the gates
/// computed from each sample alone. Gradients flow through the gates into the moments.
/// </remarks>
public sealed class ModeStandardization : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="channels">C, the gate's input size.</param>
    /// <param name="modes">K ≥ 1. Default 2.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    public ModeStandardization(long channels, long modes = 2, double eps = 1e-5)
    {
        Channels = Checks.AtLeast(channels, 1, "num_channels");
        Modes = Checks.AtLeast(modes, 1, "modes");
        Eps = Checks.NonNegative(eps, nameof(eps));
    }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <summary>K.</summary>
    public long Modes { get; }

    /// <summary>The variance offset.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    public override string Name => "mode";

    /// <inheritdoc />
    public override void CheckArea(NormArea area)
    {
        if (area is not ReductionArea { Reduce: ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space } r || r.Groups != r.Channels || r.Channels != Channels)
            throw new ArgumentException($"mode normalization works on the batch area of {Channels} channels, got '{area.Name}'", nameof(area));
    }

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area) => new[]
    {
        new RunningStatistic("mean", new[] { Modes, Channels }, StatisticInit.Zeros),
        new RunningStatistic("mean_square", new[] { Modes, Channels }, StatisticInit.Zeros),
    };

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        var gate = nn.Linear(Channels, Modes);
        using (no_grad())
            gate.weight!.copy_(ones(Modes, Channels) / Modes + randn(Modes, Channels) * 0.01);
        state.AddChild("gate", gate);
    }

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        var x = v.reshape(v.shape[0], Channels, v.shape[3]);
        var pooled = x.mean(new long[] { 2 });
        var gate = (nn.Module<Tensor, Tensor>)State.Child("gate");
        var g = gate.call(pooled).softmax(1);
        var gk = g.t().unsqueeze(-1).unsqueeze(-1);
        Tensor mean, variance;
        if (pass.UseRunning)
        {
            mean = pass.Running!["mean"].view(Modes, 1, Channels, 1);
            variance = pass.Running["mean_square"].view(Modes, 1, Channels, 1) - mean.square();
        }
        else
        {
            var r = (ReductionArea)area;
            var nk = r.BatchSum(g, 0, keepdim: false).view(Modes, 1, 1, 1);
            mean = WeightedMean(r, gk, x, nk);
            variance = WeightedMean(r, gk, (x.unsqueeze(0) - mean).square(), nk);
            if (pass.Running is { } running)
            {
                using var _ = no_grad();
                running.Update(("mean", mean.reshape(Modes, Channels)),
                    ("mean_square", WeightedMean(r, gk, x.square(), nk).reshape(Modes, Channels)));
            }
        }
        var y = (gk * ((x.unsqueeze(0) - mean) * (variance + Eps).rsqrt())).sum(new long[] { 0 });
        return y.reshape(v.shape);
    }

    /// <summary>Σ_n g_nk·E_S[t_n] / n_k for t of shape [N, C, S] or [K, N, C, S]: result [K, 1, C, 1]; the sum over n is the area's.</summary>
    private static Tensor WeightedMean(ReductionArea area, Tensor gk, Tensor t, Tensor nk) =>
        area.BatchSum(gk * t.mean(new long[] { -1 }, keepdim: true), 1, keepdim: true) / nk;
}
