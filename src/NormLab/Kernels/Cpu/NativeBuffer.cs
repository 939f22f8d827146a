using System.Runtime.InteropServices;

namespace NormLab.Kernels.Cpu;

/// <summary>A zeroed float64 scratch buffer in native memory (no GC pinning, freed on dispose).</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public NativeBuffer(long length)
    {
        Length = length;
        Pointer = length == 0 ? null : (double*)NativeMemory.AllocZeroed((nuint)length, sizeof(double));
    }

    /// <summary>The number of doubles.</summary>
    public long Length { get; }

    /// <summary>The first element.</summary>
    public double* Pointer { get; private set; }

    public void Dispose()
    {
        if (Pointer != null) NativeMemory.Free(Pointer);
        Pointer = null;
    }
}
