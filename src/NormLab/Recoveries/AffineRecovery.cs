using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>Where an affine recovery's parameters sit in the input.</summary>
public enum AffineLayout
{
    /// <summary>One γ, β per channel (dim 1), broadcast over the batch and spatial dims (BN, IN, GN).</summary>
    PerChannel,
    /// <summary>One γ, β per element of the trailing dims (LayerNorm's elementwise affine, RMSNorm).</summary>
    Elementwise,
}

/// <summary>
/// Affine recovery (Ioffe &amp; Szegedy 2015): y = γ·x̂ + β, with γ = 1 and β = 0 at initialization.
/// </summary>
/// <remarks>
/// State-dict names are PyTorch's: <c>weight</c> (γ) and <c>bias</c> (β). Either can be switched off:
/// RMSNorm has no β, mean-only batch normalization keeps only β.
/// </remarks>
public sealed class AffineRecovery : Recovery
{
    /// <summary>Creates the recovery.</summary>
    /// <param name="shape">[C] for per-channel, or the normalized trailing shape for elementwise.</param>
    /// <param name="layout">Per channel or elementwise.</param>
    /// <param name="scale">Whether γ exists. Default true.</param>
    /// <param name="shift">Whether β exists. Default true.</param>
    public AffineRecovery(long[] shape, AffineLayout layout, bool scale = true, bool shift = true)
    {
        if (layout == AffineLayout.PerChannel && shape.Length != 1)
            throw new ArgumentException($"a per-channel affine needs shape [C], got {Checks.Shape(shape)}", nameof(shape));
        Shape = shape.ToArray();
        Layout = layout;
        Scale = scale;
        Shift = shift;
    }

    /// <summary>A per-channel γ, β over <paramref name="channels"/> channels, or the identity when <paramref name="affine"/> is false.</summary>
    public static Recovery PerChannel(long channels, bool affine = true) =>
        affine ? new AffineRecovery(new[] { channels }, AffineLayout.PerChannel) : new IdentityRecovery();

    /// <summary>The parameter shape.</summary>
    public long[] Shape { get; }

    /// <summary>Per channel or elementwise.</summary>
    public AffineLayout Layout { get; }

    /// <summary>Whether γ (<c>weight</c>) exists.</summary>
    public bool Scale { get; }

    /// <summary>Whether β (<c>bias</c>) exists.</summary>
    public bool Shift { get; }

    /// <inheritdoc />
    public override string Name => Layout == AffineLayout.PerChannel ? "affine" : "elementwise-affine";

    /// <summary>γ, or null without scale.</summary>
    public Tensor? Weight => Scale ? State.Parameter("weight") : null;

    /// <summary>β, or null without shift.</summary>
    public Tensor? Bias => Shift ? State.Parameter("bias") : null;

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        if (Scale) state.AddParameter("weight", ones(Shape));
        if (Shift) state.AddParameter("bias", zeros(Shape));
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input)
    {
        var y = normalized;
        if (Scale) y = y * Broadcast(State.Parameter("weight"), y);
        if (Shift) y = y + Broadcast(State.Parameter("bias"), y);
        return y;
    }

    private Tensor Broadcast(Tensor p, Tensor y) => Layout == AffineLayout.Elementwise ? p : ChannelBroadcast.Over(p, y);
}
