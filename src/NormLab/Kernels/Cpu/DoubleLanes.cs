using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// A float64 vector of the widest width the CPU runs natively, for loops written once over both widths:
/// <see cref="Lanes8"/> (AVX-512) or <see cref="Lanes4"/> (AVX2). Generic code over a struct
/// <typeparamref name="TSelf"/> is compiled once per width with every member inlined.
/// </summary>
internal unsafe interface IDoubleLanes<TSelf> where TSelf : struct, IDoubleLanes<TSelf>
{
    /// <summary>Values per vector.</summary>
    static abstract int Count { get; }

    static abstract TSelf Zero { get; }

    static abstract TSelf Broadcast(double value);

    static abstract TSelf Load(double* p);

    /// <summary><see cref="Count"/> values of a float or double array, as float64.</summary>
    static abstract TSelf Widen<T>(T* p) where T : unmanaged;

    static abstract void Store(TSelf v, double* p);

    /// <summary>a·b + c.</summary>
    static abstract TSelf FusedMultiplyAdd(TSelf a, TSelf b, TSelf c);

    static abstract double Sum(TSelf v);

    static abstract TSelf operator +(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a, TSelf b);

    static abstract TSelf operator *(TSelf a, TSelf b);
}

/// <summary>Eight float64 values (AVX-512).</summary>
internal readonly unsafe struct Lanes8(Vector512<double> v) : IDoubleLanes<Lanes8>
{
    private readonly Vector512<double> _v = v;

    public static int Count => 8;
    public static Lanes8 Zero => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 Broadcast(double value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 Load(double* p) => new(Vector512.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 Widen<T>(T* p) where T : unmanaged =>
        typeof(T) == typeof(double) ? new(Vector512.Load((double*)p)) : new(Vector512.WidenLower(Vector256.Load((float*)p).ToVector512Unsafe()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes8 v, double* p) => Vector512.Store(v._v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 FusedMultiplyAdd(Lanes8 a, Lanes8 b, Lanes8 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sum(Lanes8 v) => Vector512.Sum(v._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 operator +(Lanes8 a, Lanes8 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 operator -(Lanes8 a, Lanes8 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes8 operator *(Lanes8 a, Lanes8 b) => new(a._v * b._v);
}

/// <summary>Four float64 values (AVX2).</summary>
internal readonly unsafe struct Lanes4(Vector256<double> v) : IDoubleLanes<Lanes4>
{
    private readonly Vector256<double> _v = v;

    public static int Count => 4;
    public static Lanes4 Zero => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 Broadcast(double value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 Load(double* p) => new(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 Widen<T>(T* p) where T : unmanaged => new(RowMath.Load4(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes4 v, double* p) => Vector256.Store(v._v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 FusedMultiplyAdd(Lanes4 a, Lanes4 b, Lanes4 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sum(Lanes4 v) => Vector256.Sum(v._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 operator +(Lanes4 a, Lanes4 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 operator -(Lanes4 a, Lanes4 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes4 operator *(Lanes4 a, Lanes4 b) => new(a._v * b._v);
}
