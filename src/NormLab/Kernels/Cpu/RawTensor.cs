using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Kernels.Cpu;

/// <summary>Raw access to the memory of contiguous CPU tensors, and the checks that make it safe.</summary>
internal static unsafe class RawTensor
{
    /// <summary>Whether a tensor can be read through a pointer: CPU, float32 or float64, contiguous, not empty.</summary>
    public static bool Usable(Tensor t) =>
        t.device_type == DeviceType.CPU && t.dtype is ScalarType.Float32 or ScalarType.Float64 && t.numel() > 0 && t.is_contiguous();

    /// <summary>Whether an optional parameter matches the input: absent, or on the CPU with the same dtype, contiguous, with <paramref name="numel"/> elements.</summary>
    public static bool Matches(Tensor? p, Tensor x, long numel) =>
        p is null || (p.device_type == DeviceType.CPU && p.dtype == x.dtype && p.is_contiguous() && p.numel() == numel);

    /// <summary>A pointer to the first element of a contiguous tensor (or null for a null tensor).</summary>
    public static T* Ptr<T>(Tensor? t) where T : unmanaged
    {
        if (t is null) return null;
        long bytes = t.numel() * t.element_size();
        if (bytes <= int.MaxValue)
            return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
        using var storage = t.storage<T>();
        return (T*)storage.data_ptr() + t.storage_offset();
    }
}
