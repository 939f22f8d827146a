using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// What keeps the fused kernels safe: a failing backward yields NaN gradients instead of aborting the
/// process, and the process-level malloc setting reports what it did.
/// </summary>
public class KernelGuardTests
{
    [Fact]
    public void A_saved_input_modified_in_place_gives_nan_gradients_not_an_abort()
    {
        var layer = StandardNorms.GroupNorm(2, 4);
        layer.to(ScalarType.Float64);
        var leaf = new Rand(1).Features(2, 4, 3, 3).requires_grad_(true);
        var x = leaf * 1.0;
        Tensor y;
        using (KernelPolicy.Use(KernelMode.Fused)) y = layer.call(x);
        using (no_grad()) x.add_(1.0); // bumps the version of a tensor the backward saved
        var previous = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            y.sum().backward();
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.True(leaf.grad!.isnan().all().item<bool>(), "the input gradient should be NaN");
        string message = captured.ToString();
        if (message.Length > 0) Assert.Contains("fused backward", message); // reported once per process
    }

    [Fact]
    public void Malloc_tuning_applies_on_glibc_and_can_be_switched_off()
    {
        if (!OperatingSystem.IsLinux()) return;
        string? previous = Environment.GetEnvironmentVariable("NORMLAB_MALLOC");
        try
        {
            Environment.SetEnvironmentVariable("NORMLAB_MALLOC", "default");
            Assert.False(ProcessTuning.ApplyMalloc());
            Environment.SetEnvironmentVariable("NORMLAB_MALLOC", null);
            Assert.True(ProcessTuning.ApplyMalloc());
        }
        finally
        {
            Environment.SetEnvironmentVariable("NORMLAB_MALLOC", previous);
        }
    }

    [Fact]
    public void OpenMp_spin_setting_is_refused_once_libgomp_has_loaded_and_checks_its_argument()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var x = TorchSharp.torch.ones(4).sum(); // LibTorch (and with it libgomp) is loaded in this process
        Assert.False(ProcessTuning.ApplyOpenMpSpin());
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessTuning.ApplyOpenMpSpin(-1));
    }
}
