using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Operations;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Recoveries;

/// <summary>
/// Attentive normalization's recovery (Li, Sun &amp; Wu, ECCV 2020): a mixture of K affine transforms,
/// y = Σ_k λ_k(x)·(γ_k·x̂ + β_k), with attention λ = hsigmoid(BN(W·pool(x))) from the spatially
/// pooled raw input.
/// </summary>
/// <remarks>
/// Follows iVMCL/AttentiveNorm (<c>AttnBatchNorm2d</c>): the attention branch (submodule <c>attention</c>)
/// is a bias-free Linear(C → K), a batch normalization of the K logits (with γ, β and running statistics) and a hard sigmoid;
/// <c>weight</c> [K, C] is initialized to 1 + 0.1·N(0, 1) and <c>bias</c> [K, C] to 0.1·N(0, 1). With
/// K = 1 and a constant attention it is an affine recovery.
/// </remarks>
public sealed class AttentiveRecovery : Recovery
{
    /// <summary>Creates the recovery.</summary>
    /// <param name="channels">C ≥ 1.</param>
    /// <param name="components">K ≥ 1. Default 5.</param>
    /// <param name="sync">Synchronize the attention branch's batch normalization across processes. Default false.</param>
    public AttentiveRecovery(long channels, long components = 5, bool sync = false)
    {
        Channels = Checks.AtLeast(channels, 1, "num_channels");
        Components = Checks.AtLeast(components, 1, "K");
        Synchronized = sync;
    }

    /// <summary>Whether the attention branch's batch normalization is synchronized across processes.</summary>
    public bool Synchronized { get; }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <summary>K.</summary>
    public long Components { get; }

    /// <inheritdoc />
    public override string Name => "attentive";

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        state.AddParameter("weight", 1 + 0.1 * randn(Components, Channels));
        state.AddParameter("bias", 0.1 * randn(Components, Channels));
        state.AddChild("attention", nn.Sequential(
            ("fc", nn.Linear(Channels, Components, hasBias: false)),
            ("norm", new Normalizer("BatchNorm1d", SynchronizedArea.Maybe(ReductionArea.Batch(Components), Synchronized), new Standardization(), AffineRecovery.PerChannel(Components), true, 0.1, new[] { 2 }))));
    }

    /// <summary>λ [N, K], the attention weights for the raw input.</summary>
    public Tensor Attention(Tensor input)
    {
        var pooled = input.dim() > 2 ? input.flatten(2).mean(new long[] { 2 }) : input;
        return F.hardsigmoid(((nn.Module<Tensor, Tensor>)State.Child("attention")).call(pooled));
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input)
    {
        var lambda = Attention(input);
        var gamma = ChannelBroadcast.Over(lambda.matmul(State.Parameter("weight")), normalized);
        var beta = ChannelBroadcast.Over(lambda.matmul(State.Parameter("bias")), normalized);
        return normalized * gamma + beta;
    }
}
