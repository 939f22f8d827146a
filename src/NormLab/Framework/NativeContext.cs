using System.Runtime.InteropServices;

namespace NormLab.Framework;

/// <summary>
/// Switches of LibTorch's global context (<c>at::globalContext()</c>) that TorchSharp does not expose, called
/// through their exported C++ symbols in <c>libtorch_cpu</c>. Each is a no-op where the symbols are missing.
/// </summary>
internal static class NativeContext
{
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern nint GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(nint context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledNnpack(nint context);

    private static readonly Lazy<bool> NnpackOff = new(() => Call(() =>
    {
        SetUserEnabledNnpack(GlobalContext(), false);
        return true;
    }) ?? false);

    /// <summary>
    /// Turns LibTorch's NNPACK convolution path off for the process (once; returns whether it took effect).
    /// </summary>
    /// <remarks>
    /// On CPUs NNPACK does not recognize (a Firecracker guest on AMD EPYC reports only "AMD EPYC"), LibTorch
    /// asks NNPACK to initialize on every convolution that could use it and logs "Could not initialize
    /// NNPACK! Reason: Unsupported hardware." each time: 264 lines in one <c>normlab bench --only lcn</c>. The
    /// switch is checked before that question. Where NNPACK works, LibTorch only takes it for
    /// convolutions without a gradient that oneDNN declined, so the cost elsewhere is nil.
    /// </remarks>
    public static bool DisableNnpack() => NnpackOff.Value;

    /// <summary>Whether LibTorch may use NNPACK, or null where the switch cannot be read.</summary>
    public static bool? NnpackEnabled() => Call(() => UserEnabledNnpack(GlobalContext()));

    private static bool? Call(Func<bool> f)
    {
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU); // LibTorch is loaded
            return f();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
