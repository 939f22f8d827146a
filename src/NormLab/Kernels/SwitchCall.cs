using System.Runtime.CompilerServices;
using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// A call of the fused switchable-normalization kernel (spatial inputs): parameters γ, β (either may
/// be null), mean_weight and var_weight. Pass 1 computes the IN moments of every (n, c) row; LN and
/// BN moments, the softmax mixture and the factors are small arrays; pass 2 writes
/// y = (x − μ)·r·γ + β. Backward mirrors it: row sums, the chain through the mixture on the small
/// arrays, then dx = r·γ·dy + (2·dσ²_in/(S − 1))·(x − μ_in) + dμ_in/S.
/// </summary>
internal sealed class SwitchCall : FusedCall
{
    private readonly long _a, _c, _s;
    private readonly double _eps;
    private readonly bool _usingBn;
    private readonly double[]? _runningMean, _runningVar;

    // Forward state, kept for backward (small arrays of A·C, A, C and K values).
    private double[] _mIn = Array.Empty<double>(), _vIn = Array.Empty<double>(), _mu = Array.Empty<double>(), _r = Array.Empty<double>();
    private double[] _mLn = Array.Empty<double>(), _vLn = Array.Empty<double>(), _mBn = Array.Empty<double>(), _vBn = Array.Empty<double>();
    private double[] _wm = Array.Empty<double>(), _wv = Array.Empty<double>();

    /// <param name="a">Batch size N.</param>
    /// <param name="c">Channels C.</param>
    /// <param name="s">Positions per channel (product of the spatial dims).</param>
    /// <param name="eps">Variance offset.</param>
    /// <param name="usingBn">Whether BN is a candidate.</param>
    /// <param name="runningMean">Stored BN mean (eval), or null to use the batch's.</param>
    /// <param name="runningVar">Stored BN variance (eval), or null.</param>
    public SwitchCall(long a, long c, long s, double eps, bool usingBn, double[]? runningMean, double[]? runningVar)
    {
        _a = a;
        _c = c;
        _s = s;
        _eps = eps;
        _usingBn = usingBn;
        _runningMean = runningMean;
        _runningVar = runningVar;
    }

    public override string Name => "switchable normalization";

    private RowLayout Rows => new(_a, _c, 1, _s, reduceA: false, reduceCg: false);

    /// <summary>The batch BN moments (training), for the running estimate.</summary>
    public (double[] Mean, double[] Var) BatchNormMoments => (_mBn, _vBn);

    public override Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved)
    {
        var y = empty_like(x);
        _wm = Softmax(FusedKernels.Values(parameters[2]!));
        _wv = Softmax(FusedKernels.Values(parameters[3]!));
        if (x.dtype == ScalarType.Float32) Forward<float>(x, y, parameters[0], parameters[1]);
        else Forward<double>(x, y, parameters[0], parameters[1]);
        return y;
    }

    private unsafe void Forward<T>(Tensor x, Tensor y, Tensor? w, Tensor? b) where T : unmanaged
    {
        long rows = _a * _c, s = _s;
        _mIn = new double[rows];
        _vIn = new double[rows];
        T* px = RawTensor.Ptr<T>(x);
        fixed (double* pm = _mIn, pv = _vIn)
        {
            nint xs = (nint)px, ms = (nint)pm, vs = (nint)pv;
            KernelParallel.For(rows, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long row = start; row < end; row++)
                {
                    T* xr = (T*)xs + row * s;
                    double shift = RowMath.ToDouble(xr[0]), s1 = 0, s2 = 0;
                    RowMath.Moments(xr, s, shift, ref s1, ref s2);
                    double m1 = s1 / s;
                    ((double*)ms)[row] = shift + m1;
                    ((double*)vs)[row] = Math.Max(s2 - s1 * m1, 0.0) / (s - 1);
                }
            });
        }
        Mix();
        T* gamma = RawTensor.Ptr<T>(w), beta = RawTensor.Ptr<T>(b), py = RawTensor.Ptr<T>(y);
        fixed (double* pmu = _mu, pr = _r)
        {
            nint xs = (nint)px, ys = (nint)py, gs = (nint)gamma, bs = (nint)beta, mus = (nint)pmu, rs = (nint)pr;
            long c = _c;
            bool stream = StreamingStores.For(y);
            KernelParallel.For(rows, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long row = start; row < end; row++)
                {
                    long ch = row % c;
                    double r = ((double*)rs)[row];
                    double scale = gs == 0 ? r : r * RowMath.ToDouble(((T*)gs)[ch]);
                    double shift = bs == 0 ? 0.0 : RowMath.ToDouble(((T*)bs)[ch]);
                    RowMath.Affine((T*)xs + row * s, (T*)ys + row * s, s, ((double*)mus)[row], scale, shift, stream: stream);
                }
                StreamingStores.Fence(stream);
            });
        }
    }

    /// <summary>LN and BN moments from the IN moments, and the softmax mixture: μ, r per row.</summary>
    private void Mix()
    {
        long a = _a, c = _c;
        _mLn = new double[a];
        _vLn = new double[a];
        for (long i = 0; i < a; i++)
        {
            double m = 0, q = 0;
            for (long j = 0; j < c; j++)
            {
                m += _mIn[i * c + j];
                q += _vIn[i * c + j] + _mIn[i * c + j] * _mIn[i * c + j];
            }
            _mLn[i] = m / c;
            _vLn[i] = q / c - _mLn[i] * _mLn[i];
        }
        if (_usingBn)
        {
            if (_runningMean is not null)
            {
                _mBn = _runningMean;
                _vBn = _runningVar!;
            }
            else
            {
                _mBn = new double[c];
                _vBn = new double[c];
                for (long j = 0; j < c; j++)
                {
                    double m = 0, q = 0;
                    for (long i = 0; i < a; i++)
                    {
                        m += _mIn[i * c + j];
                        q += _vIn[i * c + j] + _mIn[i * c + j] * _mIn[i * c + j];
                    }
                    _mBn[j] = m / a;
                    _vBn[j] = q / a - _mBn[j] * _mBn[j];
                }
            }
        }
        _mu = new double[a * c];
        _r = new double[a * c];
        for (long i = 0; i < a; i++)
            for (long j = 0; j < c; j++)
            {
                long row = i * c + j;
                double mu = _wm[0] * _mIn[row] + _wm[1] * _mLn[i];
                double v = _wv[0] * _vIn[row] + _wv[1] * _vLn[i];
                if (_usingBn)
                {
                    mu += _wm[2] * _mBn[j];
                    v += _wv[2] * _vBn[j];
                }
                _mu[row] = mu;
                _r[row] = 1.0 / Math.Sqrt(v + _eps);
            }
    }

    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    public override (Tensor? Dx, Tensor?[] Dparameters) Backward(Tensor x, Tensor?[] parameters, IReadOnlyList<Tensor> saved, Tensor dy) =>
        x.dtype == ScalarType.Float32 ? Backward<float>(x, parameters[0], dy) : Backward<double>(x, parameters[0], dy);

    private unsafe (Tensor?, Tensor?[]) Backward<T>(Tensor x, Tensor? w, Tensor dy) where T : unmanaged
    {
        long a = _a, c = _c, s = _s, rows = a * c;
        var sdy = new double[rows];
        var sdyx = new double[rows];
        T* px = RawTensor.Ptr<T>(x), pdy = RawTensor.Ptr<T>(dy), gamma = RawTensor.Ptr<T>(w);
        fixed (double* p1 = sdy, p2 = sdyx, pm = _mIn)
        {
            nint xs = (nint)px, dys = (nint)pdy, s1 = (nint)p1, s2 = (nint)p2, ms = (nint)pm;
            KernelParallel.For(rows, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long row = start; row < end; row++)
                    RowMath.GradSums((T*)dys + row * s, (T*)xs + row * s, s, ((double*)ms)[row], ref ((double*)s1)[row], ref ((double*)s2)[row]);
            });
        }

        int k = _wm.Length;
        var dgamma = new double[c];
        var dbeta = new double[c];
        var dmu = new double[rows];
        var dvar = new double[rows];
        for (long row = 0; row < rows; row++)
        {
            long j = row % c;
            double sx = sdyx[row] + (_mIn[row] - _mu[row]) * sdy[row];
            double r = _r[row];
            dbeta[j] += sdy[row];
            dgamma[j] += r * sx;
            double gc = gamma == null ? 1.0 : RowMath.ToDouble(gamma[j]);
            dmu[row] = -r * gc * sdy[row];
            dvar[row] = -0.5 * r * r * r * gc * sx;
        }

        // Through the mixture: logits, then the IN moments (directly and via LN and BN).
        var dwm = new double[k];
        var dwv = new double[k];
        var dm = new double[rows];
        var dv = new double[rows];
        var dq = new double[rows];
        var dmLn = new double[a];
        var dvLn = new double[a];
        var dmBn = new double[c];
        var dvBn = new double[c];
        for (long i = 0; i < a; i++)
            for (long j = 0; j < c; j++)
            {
                long row = i * c + j;
                dwm[0] += dmu[row] * _mIn[row];
                dwm[1] += dmu[row] * _mLn[i];
                dwv[0] += dvar[row] * _vIn[row];
                dwv[1] += dvar[row] * _vLn[i];
                dm[row] = _wm[0] * dmu[row];
                dv[row] = _wv[0] * dvar[row];
                dmLn[i] += _wm[1] * dmu[row];
                dvLn[i] += _wv[1] * dvar[row];
                if (_usingBn)
                {
                    dwm[2] += dmu[row] * _mBn[j];
                    dwv[2] += dvar[row] * _vBn[j];
                    dmBn[j] += _wm[2] * dmu[row];
                    dvBn[j] += _wv[2] * dvar[row];
                }
            }
        bool batchBn = _usingBn && _runningMean is null;
        for (long i = 0; i < a; i++)
            for (long j = 0; j < c; j++)
            {
                long row = i * c + j;
                dq[row] += dvLn[i] / c;
                dm[row] += (dmLn[i] - 2 * _mLn[i] * dvLn[i]) / c;
                if (batchBn)
                {
                    dq[row] += dvBn[j] / a;
                    dm[row] += (dmBn[j] - 2 * _mBn[j] * dvBn[j]) / a;
                }
                dv[row] += dq[row];
                dm[row] += 2 * _mIn[row] * dq[row];
            }

        Tensor? dx = null;
        if (NeedInput)
        {
            dx = empty_like(x);
            T* pdx = RawTensor.Ptr<T>(dx);
            fixed (double* pm = _mIn, pr = _r, pdm = dm, pdv = dv)
            {
                nint xs = (nint)px, dys = (nint)pdy, dxs = (nint)pdx, gs = (nint)gamma, ms = (nint)pm, rs = (nint)pr, dms = (nint)pdm, dvs = (nint)pdv;
                bool stream = StreamingStores.For(dx);
                KernelParallel.For(rows, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
                {
                    for (long row = start; row < end; row++)
                    {
                        long j = row % c;
                        double gc = gs == 0 ? 1.0 : RowMath.ToDouble(((T*)gs)[j]);
                        RowMath.GradApply((T*)dys + row * s, (T*)xs + row * s, (T*)dxs + row * s, s, ((double*)ms)[row], gc, 0.0,
                            ((double*)rs)[row], 2 * ((double*)dvs)[row] / (s - 1), ((double*)dms)[row] / s, stream: stream);
                    }
                    StreamingStores.Fence(stream);
                });
            }
        }
        var dtype = x.dtype;
        return (dx, new[]
        {
            GradShapes[0] is null ? null : FusedKernels.Gradient(dgamma, GradShapes[0]!, dtype),
            GradShapes[1] is null ? null : FusedKernels.Gradient(dbeta, GradShapes[1]!, dtype),
            GradShapes[2] is null ? null : FusedKernels.Gradient(SoftmaxBackward(_wm, dwm), GradShapes[2]!, dtype),
            GradShapes[3] is null ? null : FusedKernels.Gradient(SoftmaxBackward(_wv, dwv), GradShapes[3]!, dtype),
        });
    }

    private static double[] SoftmaxBackward(double[] w, double[] dw)
    {
        double dot = 0;
        for (int i = 0; i < w.Length; i++) dot += w[i] * dw[i];
        return w.Select((wi, i) => wi * (dw[i] - dot)).ToArray();
    }
}
