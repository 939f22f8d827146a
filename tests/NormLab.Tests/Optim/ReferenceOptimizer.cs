using NormLab.Registry;
using static TorchSharp.torch;

namespace NormLab.Tests.Optim;

/// <summary>Hyper-parameters of a reference update rule (every optimizer's, by name).</summary>
public sealed record Hyper(string Kind, double Lr, double Momentum = 0, double WeightDecay = 0, bool Nesterov = false, bool Gc = false,
    double Eta = 0.001, bool ExcludeBias = false, bool Clip = false, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8,
    double? Clamp = null, Hyper? Inner = null)
{
    /// <summary>The hyper-parameters a spec string describes, defaults filled by the registry.</summary>
    public static Hyper FromSpec(string spec) => FromSpec(Spec.Parse(spec));

    private static Hyper FromSpec(Spec spec)
    {
        var (entry, a) = OptimizerRegistry.Registry.Resolve(spec);
        double R(string k) => entry.Keys.Any(x => x.Name == k) ? a.Real(k) : 0;
        bool B(string k) => entry.Keys.Any(x => x.Name == k) && a.Bool(k);
        if (entry.Name == "gradnorm") return new Hyper("gradnorm", 0, Inner: FromSpec(a.Nested("inner")));
        return new Hyper(entry.Name, a.Real("lr"), R("momentum"), R("weight_decay"), B("nesterov"), B("gc"),
            entry.Name == "lars" ? a.Real("eta") : 0.001, B("exclude_bias"), B("clip"),
            R("beta1"), R("beta2"), R("eps"), entry.Name == "lamb" ? a.OptionalReal("clamp") : null);
    }
}

/// <summary>Per-parameter state of a reference rule: the heavy-ball buffer or Adam's moments and step.</summary>
public sealed class RefState
{
    public Tensor? Buffer;
    public Tensor? M;
    public Tensor? V;
    public long T;
}

/// <summary>
/// The update rules as the papers write them, in plain float64 tensor arithmetic and scalar norms,
/// independent of the library: one call applies one step to every parameter.
/// </summary>
public sealed class ReferenceOptimizer(Hyper h)
{
    private readonly Dictionary<int, RefState> _states = new();

    public RefState State(int i) => _states.TryGetValue(i, out var s) ? s : _states[i] = new RefState();

    /// <summary>Returns the parameters after one step with gradients <paramref name="gs"/>.</summary>
    public Tensor[] Step(Tensor[] ws, Tensor[] gs) => ws.Select((w, i) => Step(h, w, gs[i], State(i))).ToArray();

    public static double Norm(Tensor t) => Math.Sqrt((t * t).sum().item<double>());

    /// <summary>g minus its mean over all dims but 0, for rank > 1.</summary>
    public static Tensor Centralize(Tensor g)
    {
        if (g.dim() <= 1) return g;
        var rows = g.reshape(g.shape[0], -1);
        return (rows - rows.mean(new long[] { 1 }, keepdim: true)).reshape(g.shape);
    }

    /// <summary>The 0-norm rule: numerator/denominator of the trust ratio, 1 when either norm is 0.</summary>
    private static double Trust(double weightNorm, double otherNorm, double ratio) => weightNorm > 0 && otherNorm > 0 ? ratio : 1;

    private static Tensor Step(Hyper h, Tensor w, Tensor g, RefState s) => h.Kind switch
    {
        "sgd" => Sgd(h, w, g, s),
        "adam" => Adam(h, w, g, s, decoupled: false),
        "adamw" => Adam(h, w, g, s, decoupled: true),
        "lars" => Lars(h, w, g, s),
        "lamb" => Lamb(h, w, g, s),
        "lans" => Lans(h, w, g, s),
        "gradnorm" => Step(h.Inner!, w, Norm(g) > 0 ? g / Norm(g) : g, s),
        _ => throw new ArgumentException(h.Kind),
    };

    // PyTorch SGD: d = GC(g + λw); buf = d (first) or m·buf + d; step along buf or d + m·buf (Nesterov).
    private static Tensor Sgd(Hyper h, Tensor w, Tensor g, RefState s)
    {
        var d = g + h.WeightDecay * w;
        if (h.Gc) d = Centralize(d);
        if (h.Momentum != 0)
        {
            s.Buffer = s.Buffer is null ? d : h.Momentum * s.Buffer + d;
            d = h.Nesterov ? d + h.Momentum * s.Buffer : s.Buffer;
        }
        return w - h.Lr * d;
    }

    // Kingma & Ba Algorithm 1 (+ L2, or Loshchilov & Hutter's decoupled decay).
    private static Tensor Adam(Hyper h, Tensor w, Tensor g, RefState s, bool decoupled)
    {
        if (decoupled) w = w * (1 - h.Lr * h.WeightDecay);
        else g = g + h.WeightDecay * w;
        if (h.Gc) g = Centralize(g);
        var (mHat, vHat) = Moments(h, g, s, w);
        return w - h.Lr * mHat / (vHat.sqrt() + h.Eps);
    }

    private static (Tensor MHat, Tensor VHat) Moments(Hyper h, Tensor g, RefState s, Tensor like)
    {
        s.T += 1;
        s.M = h.Beta1 * (s.M ?? zeros_like(like)) + (1 - h.Beta1) * g;
        s.V = h.Beta2 * (s.V ?? zeros_like(like)) + (1 - h.Beta2) * g * g;
        return (s.M / (1 - Math.Pow(h.Beta1, s.T)), s.V / (1 - Math.Pow(h.Beta2, s.T)));
    }

    // You, Gitman & Ginsburg 2017 Algorithm 1 (paper form): v ← m·v + lr·λ_l·(g + βw), w ← w − v;
    // Nesterov (not in the paper) as PyTorch: w ← w − lr·λ_l·(d + m·buf). Buffer kept as v/lr (PyTorch's convention).
    private static Tensor Lars(Hyper h, Tensor w, Tensor g, RefState s)
    {
        if (h.Gc) g = Centralize(g);
        bool excluded = h.ExcludeBias && w.dim() <= 1;
        double wd = excluded ? 0 : h.WeightDecay;
        double wNorm = Norm(w), gNorm = Norm(g);
        double local = excluded ? 1 : Trust(wNorm, gNorm, h.Eta * wNorm / (gNorm + h.WeightDecay * wNorm));
        if (h.Clip && !excluded) local = Math.Min(local / h.Lr, 1);
        var d = local * (g + wd * w);
        if (h.Momentum == 0) return w - h.Lr * d;
        var v = h.Lr * d + (s.Buffer is null ? zeros_like(w) : h.Momentum * h.Lr * s.Buffer);
        s.Buffer = v / h.Lr;
        return h.Nesterov ? w - h.Lr * (d + h.Momentum * s.Buffer) : w - v;
    }

    // You et al. 2020 Algorithm 2: r = m̂/(√v̂ + ε), u = r + λw, w ← w − lr·φ(‖w‖)/‖u‖·u.
    private static Tensor Lamb(Hyper h, Tensor w, Tensor g, RefState s)
    {
        if (h.Gc) g = Centralize(g);
        var (mHat, vHat) = Moments(h, g, s, w);
        var r = mHat / (vHat.sqrt() + h.Eps);
        if (h.ExcludeBias && w.dim() <= 1) return w - h.Lr * r;
        var u = r + h.WeightDecay * w;
        double wNorm = Norm(w), uNorm = Norm(u);
        double phi = h.Clamp is { } c ? Math.Min(wNorm, c) : wNorm;
        return w - h.Lr * Trust(wNorm, uNorm, phi / uNorm) * u;
    }

    // Zheng et al. 2020 Algorithm 2: ĝ = g/‖g‖; r = m̂/(√v̂+ε) + λw; c = ĝ/(√v̂+ε) + λw;
    // w ← w − lr·β1·‖w‖/‖r‖·r − lr·(1−β1)·‖w‖/‖c‖·c.
    private static Tensor Lans(Hyper h, Tensor w, Tensor g, RefState s)
    {
        if (h.Gc) g = Centralize(g);
        var gHat = Norm(g) > 0 ? g / Norm(g) : zeros_like(g);
        var (mHat, vHat) = Moments(h, gHat, s, w);
        var d = vHat.sqrt() + h.Eps;
        var r = mHat / d + h.WeightDecay * w;
        var c = gHat / d + h.WeightDecay * w;
        double wNorm = Norm(w), rNorm = Norm(r), cNorm = Norm(c);
        return w - h.Lr * h.Beta1 * Trust(wNorm, rNorm, wNorm / rNorm) * r
                 - h.Lr * (1 - h.Beta1) * Trust(wNorm, cNorm, wNorm / cNorm) * c;
    }
}
