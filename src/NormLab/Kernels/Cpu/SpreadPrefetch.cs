using System.Runtime.CompilerServices;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// Prefetches a future region into L2 a few cache lines at a time from inside a compute loop, so memory
/// stays busy while the core works from cache. The region is <c>rows</c> rows (row stride
/// <c>strideBytes</c>) of <c>bytesPerRow</c> bytes in a first source and, when given, as many in a second.
/// The default value prefetches nothing.
/// </summary>
internal unsafe struct SpreadPrefetch
{
    private byte* _first, _second;
    private long _strideBytes, _rows, _linesPerRow, _total, _next, _perStep;

    /// <summary>The region, handed out over <paramref name="steps"/> calls of <see cref="Step"/> (0: all of it at <see cref="Finish"/>).</summary>
    public static SpreadPrefetch Over(void* first, void* second, long strideBytes, long rows, long bytesPerRow, long steps)
    {
        long lines = (bytesPerRow + 63) / 64, total = (second == null ? 1 : 2) * rows * lines;
        return new SpreadPrefetch
        {
            _first = (byte*)first, _second = (byte*)second, _strideBytes = strideBytes, _rows = rows, _linesPerRow = lines,
            _total = total, _perStep = steps > 0 ? (total + steps - 1) / steps : 0,
        };
    }

    /// <summary>Prefetches the next few lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step()
    {
        if (_perStep > 0) Prefetch(Math.Min(_next + _perStep, _total));
    }

    /// <summary>Prefetches whatever the steps left.</summary>
    public void Finish() => Prefetch(_total);

    private void Prefetch(long stop)
    {
        for (; _next < stop; _next++)
        {
            long r = _next / _linesPerRow, line = _next - r * _linesPerRow;
            byte* row = r < _rows ? _first + r * _strideBytes : _second + (r - _rows) * _strideBytes;
            RowMath.Prefetch(row + line * 64);
        }
    }
}
