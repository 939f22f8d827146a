namespace NormLab.Framework;

/// <summary>Which implementations a normalizer may use for the same semantics.</summary>
public enum KernelMode
{
    /// <summary>The fastest measured: LibTorch's native op where one exists, else the fused CPU kernel, else the composite.</summary>
    Auto,
    /// <summary>Fused CPU kernels wherever one exists, even where a native op is faster (kernel tests and benchmarks).</summary>
    Fused,
    /// <summary>LibTorch's native ops where they exist (twice differentiable), else the composite.</summary>
    Native,
    /// <summary>Only the composite of tensor ops: the reference every kernel is tested against.</summary>
    Composite,
}

/// <summary>
/// Chooses between the composite reference and faster kernels with identical semantics. The choice is
/// scoped to the current async flow, so parallel tests and analysis routines do not interfere.
/// </summary>
/// <example><code>using (KernelPolicy.Use(KernelMode.Composite)) { y = layer.forward(x); }</code></example>
public static class KernelPolicy
{
    private static readonly AsyncScope<KernelMode> Scoped = new();

    /// <summary>The mode used when no scope is active. Default <see cref="KernelMode.Auto"/>.</summary>
    public static KernelMode Default { get; set; } = KernelMode.Auto;

    /// <summary>The mode in effect.</summary>
    public static KernelMode Current => Scoped.TryGet(out var mode) ? mode : Default;

    /// <summary>Uses <paramref name="mode"/> until the returned scope is disposed.</summary>
    public static IDisposable Use(KernelMode mode) => Scoped.Use(mode);
}
