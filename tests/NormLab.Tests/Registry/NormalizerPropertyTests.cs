using System.Globalization;
using CsCheck;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Registry;

/// <summary>
/// Property-based tests (CsCheck) over every registry normalizer: random tiny shapes, group counts,
/// eps, momentum and dtype. Properties: finite outputs for finite inputs, shape preserved, the input
/// invariances the method promises (the <see cref="Table"/> below, one row per entry), and in eval mode
/// a sample's output independent of the rest of the batch. 200 cases per entry, fixed seeds.
/// </summary>
public class NormalizerPropertyTests
{
    private const int CasesPerEntry = 200;

    /// <summary>Which input transformations x -> alpha*x + beta leave the training-mode output unchanged.</summary>
    [Flags]
    public enum Invariance { None = 0, Scale = 1, Shift = 2, ScaleShift = Scale | Shift }

    /// <summary>
    /// Per entry: the feature ranks it takes (1 = [N,C], 2 = [N,C,L], 3 = [N,C,H,W]) and its invariances
    /// (to a scalar alpha > 0 and a scalar shift beta of the input, in training mode, up to eps).
    /// A new registry entry must be added here (see <see cref="Every_registry_entry_declares_its_properties"/>).
    /// </summary>
    public static readonly Dictionary<string, (int[] Ranks, Invariance Invariance, string Why)> Table = new()
    {
        ["bn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "standardization over (N, spatial) per channel"),
        ["ln"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "standardization per sample"),
        ["in"] = (new[] { 2, 3 }, Invariance.ScaleShift, "standardization per (sample, channel); needs spatial dims"),
        ["gn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "standardization per (sample, group)"),
        ["bgn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "standardization per group over the batch"),
        ["pn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "standardization over channels per position"),
        ["rms"] = (new[] { 1, 2, 3 }, Invariance.Scale, "RMS scaling: no centering, so a shift changes the output"),
        ["meanbn"] = (new[] { 1, 2, 3 }, Invariance.Shift, "centering only: scaling the input scales the output"),
        ["pca"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "batch whitening (centered; Sigma scales by alpha^2)"),
        ["zca"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "batch whitening"),
        ["cd"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "batch whitening"),
        ["itn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "IterNorm: Sigma normalized by its trace"),
        ["iw"] = (new[] { 2, 3 }, Invariance.ScaleShift, "instance whitening; needs spatial positions"),
        ["sn"] = (new[] { 2, 3 }, Invariance.ScaleShift, "mixture of IN/LN/BN standardizations"),
        ["sw"] = (new[] { 2, 3 }, Invariance.ScaleShift, "mixture of BW/IW whitenings"),
        ["mn"] = (new[] { 1, 2, 3 }, Invariance.None, "the mode gate softmax(W pool(x) + b) depends on the input's scale and offset"),
        ["lrn"] = (new[] { 2, 3 }, Invariance.None, "a / (k + alpha/n sum a^2)^beta with k > 0: neither scale nor shift invariant"),
        ["lcn"] = (new[] { 3 }, Invariance.Scale, "v/max(mean sigma, sigma) is homogeneous of degree 0; the windowed mean is zero-padded at borders, so no shift invariance"),
        ["divisive"] = (new[] { 3 }, Invariance.None, "sigma^2 > 0 in the denominator breaks scale invariance; zero-padded windows break shift invariance"),
        ["lcxn"] = (new[] { 3 }, Invariance.ScaleShift, "standardization over a (group, window) neighbourhood"),
        ["population"] = (new[] { 1, 2, 3 }, Invariance.None, "fixed population statistics, not statistics of the input"),
        ["adain"] = (new[] { 2, 3 }, Invariance.ScaleShift, "instance standardization of x (the style condition is held fixed)"),
        ["spade"] = (new[] { 3 }, Invariance.ScaleShift, "inner instance norm of x (the segmentation map is held fixed)"),
        ["cbn"] = (new[] { 1, 2, 3 }, Invariance.ScaleShift, "inner batch norm (class ids held fixed)"),
        ["film"] = (new[] { 2, 3 }, Invariance.ScaleShift, "inner instance norm (conditioning vector held fixed)"),
        ["an"] = (new[] { 1, 2, 3 }, Invariance.None, "xhat is batch-standardized and the attention BN(W pool(x)) removes alpha and beta too, but that inner BN has its own fixed eps 1e-5 (not the spec's), so the invariance is only approximate: not asserted"),
    };

    /// <summary>One random case: shape, spec values, dtype, the transformation and a data seed.</summary>
    public sealed record Case(int Rank, long N, long C, long[] Spatial, int GroupPick, int WindowPick, double Eps, double Momentum,
        bool Float64, double Alpha, double Beta, long DataSeed)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"rank {Rank}, N {N}, C {C}, spatial [{string.Join(",", Spatial)}], groupPick {GroupPick}, eps {Eps:E2}, momentum {Momentum:F2}, {(Float64 ? "f64" : "f32")}, alpha {Alpha:F3}, beta {Beta:F3}, seed {DataSeed}");
    }

    private static Gen<Case> CaseGen(int[] ranks) =>
        from rank in Gen.OneOf(ranks)
        from n in Gen.Int[4, 6]
        from c in Gen.OneOf(2L, 3L, 4L, 6L)
        from s1 in Gen.Int[3, 5]
        from s2 in Gen.Int[3, 5]
        from groupPick in Gen.Int[0, 7]
        from windowPick in Gen.Int[0, 7]
        from logEps in Gen.Double[-8, -2]
        from momentum in Gen.Double[0.05, 0.95]
        from f64 in Gen.Bool
        from alpha in Gen.Double[0.25, 4]
        from beta in Gen.Double[-3, 3]
        from seed in Gen.Int[0, 1_000_000]
        select new Case(rank, n, c, rank == 1 ? Array.Empty<long>() : rank == 2 ? new long[] { s1 * s2 } : new long[] { s1, s2 },
            groupPick, windowPick, Math.Pow(10, logEps), momentum, f64, alpha, beta, seed);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var e in NormRegistry.Entries) data.Add(e.Name);
        return data;
    }

    [Fact]
    public void Every_registry_entry_declares_its_properties()
    {
        var missing = NormRegistry.Entries.Select(e => e.Name).Where(n => !Table.ContainsKey(n)).ToList();
        Assert.True(missing.Count == 0, $"registry entries without a row in NormalizerPropertyTests.Table: {string.Join(", ", missing)}");
        var stale = Table.Keys.Where(k => NormRegistry.Entries.All(e => e.Name != k)).ToList();
        Assert.True(stale.Count == 0, $"rows for entries not in the registry: {string.Join(", ", stale)}");
    }

    /// <summary>The spec for a case: every group, eps, momentum and window key of the entry is set from the case.</summary>
    internal static string SpecFor(SpecEntry<NormContext, nn.Module> entry, Case k)
    {
        long samples = k.Spatial.Aggregate(1L, (a, b) => a * b);
        var divisors = Enumerable.Range(1, (int)k.C).Where(d => k.C % d == 0).Select(d => (long)d).ToList();
        var args = new List<string>();
        foreach (var key in entry.Keys)
        {
            switch (key.Name)
            {
                case "groups":
                    args.Add($"groups={divisors[k.GroupPick % divisors.Count]}");
                    break;
                case "group":
                {
                    // channels per whitening group: few enough that the covariances are well estimated
                    long limit = Math.Max(1, Math.Min(k.N * samples, samples) / 2);
                    var fit = divisors.Where(d => d <= limit).ToList();
                    args.Add($"group={fit[k.GroupPick % fit.Count]}");
                    break;
                }
                case "eps":
                    args.Add(string.Create(CultureInfo.InvariantCulture, $"eps={k.Eps:R}"));
                    break;
                case "momentum":
                    args.Add(string.Create(CultureInfo.InvariantCulture, $"momentum={k.Momentum:R}"));
                    break;
                case "window":
                    // lcxn's window: 2 to the smallest spatial size (a 1x1 window of one channel has var 0, so its
                    // output is rounding noise / sqrt(eps) and no invariance can hold)
                    args.Add($"window={2 + k.WindowPick % (k.Spatial.Min() - 1)}");
                    break;
                case "size" or "sum_size" or "sup_size":
                    // window sides (lcn, divisive) and lrn's channel window: at most the smallest spatial size
                    args.Add($"{key.Name}={1 + k.WindowPick % k.Spatial.Min()}");
                    break;
                case "norm":
                    // the inner normalizer of a conditional entry gets the case's eps
                    args.Add(string.Create(CultureInfo.InvariantCulture, $"norm={key.Default}(eps={k.Eps:R})"));
                    break;
                case "hidden":
                    args.Add("hidden=8");
                    break;
            }
        }
        return args.Count == 0 ? entry.Name : $"{entry.Name}({string.Join(", ", args)})";
    }

    private static Tensor Input(Case k, long seed, long n) =>
        new Rand(seed).Features(new[] { n, k.C }.Concat(k.Spatial).ToArray()).to(k.Float64 ? ScalarType.Float64 : ScalarType.Float32);

    /// <summary>A random condition of the right shape for each conditional entry, by name (with its shape without the batch dim).</summary>
    internal static (long[] Shape, Tensor Make)? ConditionOf(string name, Case k, long n, long seed)
    {
        var r = new Rand(seed);
        var dtype = k.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var features = new[] { k.C }.Concat(k.Spatial).ToArray();
        // the condition's shape comes from the case (not the seed), so every batch of a case has the same one
        var spade = new long[] { 1 + k.WindowPick % 4, 2 + k.GroupPick % 5, 2 + k.WindowPick % 5 };
        long film = 1 + k.GroupPick;
        return name switch
        {
            "adain" => (features, r.Features(new[] { n }.Concat(features).ToArray()).to(dtype)),
            "spade" => (spade, r.Uniform(0, 1, new[] { n }.Concat(spade).ToArray()).to(dtype)),
            "cbn" => (Array.Empty<long>(), r.Uniform(0, 10, n).floor().to(ScalarType.Int64)),
            "film" => (new long[] { film }, r.Normal(n, film).to(dtype)),
            _ => null,
        };
    }

    /// <summary>A registry module with its random condition (for conditional entries).</summary>
    internal sealed class Subject(nn.Module module, string name, Case k)
    {
        public nn.Module Module { get; } = module;
        public Tensor? Condition(long n, long seed) => ConditionOf(name, k, n, seed)?.Make;
        public Tensor Call(Tensor x, Tensor? c) => Module switch
        {
            nn.Module<Tensor, Tensor> plain => plain.call(x),
            nn.Module<Tensor, Tensor, Tensor> conditional => conditional.call(x, c!),
            _ => throw new InvalidOperationException(Module.GetType().Name),
        };
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Properties_hold_for_random_shapes_groups_eps_momentum_and_dtypes(string name)
    {
        var entry = NormRegistry.Registry.Find(name);
        var (ranks, invariance, _) = Table[name];
        int run = 0;
        CaseGen(ranks).Array[CasesPerEntry].Sample(cases =>
        {
            foreach (var k in cases)
            {
                using var scope = NewDisposeScope();
                CheckCase(entry, k, invariance);
                run++;
            }
        }, seed: Seed(name), iter: 1, threads: 1);
        Assert.Equal(CasesPerEntry, run);
    }

    /// <summary>A fixed CsCheck seed per entry, so every run draws the same cases.</summary>
    private static string Seed(string name)
    {
        ulong h = 1469598103934665603UL;
        foreach (char ch in name) h = (h ^ ch) * 1099511628211UL;
        return new PCG((uint)(h >> 40), h).ToString();
    }

    /// <summary>The entry's module for a case (plain or conditional), in the case's dtype.</summary>
    internal static Subject Build(SpecEntry<NormContext, nn.Module> entry, Case k, long[] features, ScalarType dtype)
    {
        var spec = SpecFor(entry, k);
        var s = new Subject(ConditionOf(entry.Name, k, 1, 0) is { } cond
            ? NormRegistry.CreateConditional(spec, features, cond.Shape)
            : NormRegistry.Create(spec, features), entry.Name, k);
        s.Module.to(dtype);
        return s;
    }

    private static void CheckCase(SpecEntry<NormContext, nn.Module> entry, Case k, Invariance invariance)
    {
        var spec = SpecFor(entry, k);
        var features = new[] { k.C }.Concat(k.Spatial).ToArray();
        var dtype = k.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var s = Build(entry, k, features, dtype);
        string where = $"{spec} on {k}";
        using (no_grad())
        {
            var x = Input(k, k.DataSeed, k.N);
            var c = s.Condition(k.N, k.DataSeed);
            var y = s.Call(x, c);
            Assert.True(y.shape.SequenceEqual(x.shape), $"{where}: output shape [{string.Join(",", y.shape)}] != input shape");
            Assert.True(y.dtype == dtype, $"{where}: output dtype {y.dtype} != {dtype}");
            Assert.True(y.isfinite().all().item<bool>(), $"{where}: non-finite output for a finite input");
            if (invariance != Invariance.None)
            {
                // eps breaks the invariances by O(eps/var), and tiny groups (two channels per position in pn,
                // one value per group in gn on [N, C]) can have a tiny var: check them on a twin with a tiny eps
                var twin = k with { Eps = k.Float64 ? 1e-13 : 1e-10 };
                var inv = Build(entry, twin, features, dtype);
                var y0 = inv.Call(x, c);
                double tol = (k.Float64 ? 1e-6 : 5e-3) + 1e3 * twin.Eps * (1 + 1 / (k.Alpha * k.Alpha));
                if (invariance.HasFlag(Invariance.Scale))
                    TensorAssert.Close(y0, inv.Call(x * k.Alpha, c), tol, tol, $"{where}: scale invariance (eps {twin.Eps})");
                if (invariance.HasFlag(Invariance.Shift))
                    TensorAssert.Close(y0, inv.Call(x + k.Beta, c), tol, tol, $"{where}: shift invariance (eps {twin.Eps})");
            }

            // eval mode: one more training batch, then a sample's output must not depend on the rest of its batch
            s.Call(Input(k, k.DataSeed + 1, k.N), s.Condition(k.N, k.DataSeed + 1));
            s.Module.eval();
            var full = s.Call(x, c);
            Assert.True(full.isfinite().all().item<bool>(), $"{where}: non-finite eval output");
            var alone = s.Call(x[..1], c?[..1]);
            var other = Input(k, k.DataSeed + 2, k.N);
            var otherC = s.Condition(k.N, k.DataSeed + 2);
            var mixed = s.Call(cat(new[] { x[..1], other[1..] }), c is null ? null : cat(new[] { c[..1], otherC![1..] }));
            double etol = k.Float64 ? 1e-10 : 1e-5;
            TensorAssert.Close(full[..1], alone, etol, etol, $"{where}: eval sample alone vs in its batch");
            TensorAssert.Close(full[..1], mixed[..1], etol, etol, $"{where}: eval sample with another batch");
        }
    }
}
