using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Recoveries;

/// <summary>
/// Spatially-adaptive recovery, SPADE (Park, Liu, Wang &amp; Zhu, CVPR 2019): y = x̂·(1 + γ(m)) + β(m),
/// with γ, β [N, C, H, W] computed by a small conv net from the segmentation map m resized to the
/// input's spatial size (nearest neighbour).
/// </summary>
/// <remarks>
/// Semantics and state names of NVlabs/SPADE <c>models/networks/normalization.py</c>:
/// <c>mlp_shared</c> = conv(label_nc → hidden, k) + ReLU, then <c>mlp_gamma</c> and <c>mlp_beta</c> =
/// conv(hidden → C, k), padding k/2, default hidden 128 and k 3. γ and β vary per position, so a change
/// to one region of the map changes only the outputs within the convs' receptive field of it.
/// </remarks>
public sealed class SpadeRecovery : ConditionalRecovery
{
    /// <summary>Creates the recovery.</summary>
    /// <param name="labelChannels">Channels of the segmentation map, ≥ 1.</param>
    /// <param name="channels">C, the input's channels.</param>
    /// <param name="hidden">Channels of the shared hidden layer, ≥ 1. Default 128.</param>
    /// <param name="kernel">Odd conv kernel size, ≥ 1. Default 3.</param>
    public SpadeRecovery(long labelChannels, long channels, long hidden = 128, long kernel = 3)
    {
        LabelChannels = Checks.AtLeast(labelChannels, 1, "label_nc");
        Channels = Checks.AtLeast(channels, 1, "num_channels");
        Hidden = Checks.AtLeast(hidden, 1, nameof(hidden));
        Kernel = Checks.AtLeast(kernel, 1, nameof(kernel));
        if (kernel % 2 == 0)
            throw new ArgumentException($"kernel ({kernel}) must be odd so the maps keep their size", nameof(kernel));
    }

    /// <summary>Channels of the segmentation map.</summary>
    public long LabelChannels { get; }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <summary>Hidden channels.</summary>
    public long Hidden { get; }

    /// <summary>Conv kernel size.</summary>
    public long Kernel { get; }

    /// <inheritdoc />
    public override string Name => "spade";

    /// <inheritdoc />
    public override string ConditionDescription => $"a segmentation map [N, {LabelChannels}, h, w] with the input's N";

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        long pad = Kernel / 2;
        state.AddChild("mlp_shared", nn.Sequential(nn.Conv2d(LabelChannels, Hidden, Kernel, padding: pad), nn.ReLU()));
        state.AddChild("mlp_gamma", nn.Conv2d(Hidden, Channels, Kernel, padding: pad));
        state.AddChild("mlp_beta", nn.Conv2d(Hidden, Channels, Kernel, padding: pad));
    }

    /// <inheritdoc />
    public override void ValidateCondition(Tensor condition, Tensor input)
    {
        if (input.dim() != 4)
            throw new ArgumentException($"input has {input.dim()} dims (shape {Checks.Shape(input.shape)}); SPADE expects [N, C, H, W]", "input");
        if (!condition.is_floating_point())
            throw ConditionError(condition, "is not floating point (one-hot encode label maps)");
        if (condition.dim() != 4 || condition.shape[0] != input.shape[0] || condition.shape[1] != LabelChannels)
            throw ConditionError(condition, $"does not match the input {Checks.Shape(input.shape)}");
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input, Tensor condition)
    {
        var map = F.interpolate(condition.to(normalized.dtype), new[] { input.shape[2], input.shape[3] }, mode: InterpolationMode.Nearest);
        var hidden = ((nn.Module<Tensor, Tensor>)State.Child("mlp_shared")).call(map);
        var gamma = ((nn.Module<Tensor, Tensor>)State.Child("mlp_gamma")).call(hidden);
        var beta = ((nn.Module<Tensor, Tensor>)State.Child("mlp_beta")).call(hidden);
        return normalized * (1 + gamma) + beta;
    }
}
