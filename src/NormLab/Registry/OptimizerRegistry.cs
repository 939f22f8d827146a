using NormLab.Optim;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Registry;

/// <summary>
/// Every optimizer by name. <c>OptimizerRegistry.Create("lars(lr=0.5,weight_decay=5e-4)", model.parameters())</c>
/// builds LARS over one parameter group; <c>gradnorm(inner=adam(lr=0.01))</c> wraps any other spec.
/// </summary>
public static class OptimizerRegistry
{
    private static readonly Lazy<SpecRegistry<IReadOnlyList<Parameter>, NormOptimizer>> Instance = new(Build);

    private static readonly SpecKey Lr = SpecKey.Real("lr", 1e-3, "learning rate, >= 0");
    private static readonly SpecKey Beta1 = SpecKey.Real("beta1", 0.9, "first-moment decay, in [0,1)");
    private static readonly SpecKey Beta2 = SpecKey.Real("beta2", 0.999, "second-moment decay, in [0,1)");
    private static readonly SpecKey Eps = SpecKey.Real("eps", 1e-8, "offset outside the square root: sqrt(v_hat) + eps, >= 0");
    private static readonly SpecKey WeightDecay = SpecKey.Real("weight_decay", 0, "weight decay lambda, >= 0");
    private static readonly SpecKey Momentum = SpecKey.Real("momentum", 0, "heavy-ball momentum factor, >= 0");
    private static readonly SpecKey Nesterov = SpecKey.Bool("nesterov", false, "Nesterov momentum (needs momentum > 0)");
    private static readonly SpecKey Gc = SpecKey.Bool("gc", false, "gradient centralization: subtract the mean over all dims but dim 0 from gradients of rank > 1");

    /// <summary>The registry itself (entries, lookup).</summary>
    public static SpecRegistry<IReadOnlyList<Parameter>, NormOptimizer> Registry => Instance.Value;

    /// <summary>Every registered optimizer.</summary>
    public static IReadOnlyList<SpecEntry<IReadOnlyList<Parameter>, NormOptimizer>> Entries => Registry.Entries;

    /// <summary>Creates the optimizer a spec describes, over one parameter group.</summary>
    /// <exception cref="SpecException">a malformed spec or an unknown name or key (the message lists the valid ones).</exception>
    /// <exception cref="ArgumentException">a value the optimizer rejects (negative lr, beta outside [0,1), ...) or no parameters.</exception>
    public static NormOptimizer Create(string spec, IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return Registry.Create(spec, parameters.ToArray());
    }

    private static SpecRegistry<IReadOnlyList<Parameter>, NormOptimizer> Build()
    {
        var r = new SpecRegistry<IReadOnlyList<Parameter>, NormOptimizer>("optimizer");
        r.Add(new("sgd", Array.Empty<string>(), "stochastic gradient descent with momentum",
            "Robbins & Monro 1951, A Stochastic Approximation Method; Polyak 1964 (heavy ball); Sutskever et al. 2013 (Nesterov)",
            "d = Phi(g + lambda*w); buf = m*buf + d; w -= lr*(nesterov ? d + m*buf : buf)",
            new[] { Lr, Momentum, WeightDecay, Nesterov, Gc },
            (a, p) => new Sgd(p, a.Real("lr"), a.Real("momentum"), a.Real("weight_decay"), a.Bool("nesterov"), a.Bool("gc"))));

        r.Add(new("adam", Array.Empty<string>(), "Adam with L2 weight decay",
            "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization",
            "g' = Phi(g + lambda*w); m, v = EMA(g'), EMA(g'^2); w -= lr*m_hat/(sqrt(v_hat) + eps), hats = /(1 - beta^t)",
            new[] { Lr, Beta1, Beta2, Eps, WeightDecay, Gc },
            (a, p) => new Adam(p, a.Real("lr"), a.Real("beta1"), a.Real("beta2"), a.Real("eps"), a.Real("weight_decay"), a.Bool("gc"))));

        r.Add(new("adamw", Array.Empty<string>(), "Adam with decoupled weight decay",
            "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization",
            "w *= 1 - lr*lambda; m, v = EMA(Phi(g)), EMA(Phi(g)^2); w -= lr*m_hat/(sqrt(v_hat) + eps)",
            new[] { Lr, Beta1, Beta2, Eps, WeightDecay with { Default = "0.01" }, Gc },
            (a, p) => new AdamW(p, a.Real("lr"), a.Real("beta1"), a.Real("beta2"), a.Real("eps"), a.Real("weight_decay"), a.Bool("gc"))));

        r.Add(new("lars", Array.Empty<string>(), "layer-wise adaptive rate scaling (timm form)",
            "You, Gitman & Ginsburg 2017, Large Batch Training of Convolutional Networks",
            "local = eta*|w|/(|g| + lambda*|w|) (1 if a norm is 0); buf = m*buf + local*(g + lambda*w); w -= lr*buf",
            new[]
            {
                Lr with { Default = "1" }, Momentum with { Default = "0.9" }, WeightDecay,
                SpecKey.Real("eta", 0.001, "trust coefficient, > 0"), Nesterov,
                SpecKey.Bool("exclude_bias", false, "no adaptation and no decay for tensors of rank <= 1 (biases, norm parameters)"),
                SpecKey.Bool("clip", false, "LARC clipping: local = min(local/lr, 1)"), Gc,
            },
            (a, p) => new Lars(p, a.Real("lr"), a.Real("momentum"), a.Real("weight_decay"), a.Real("eta"), a.Bool("nesterov"),
                a.Bool("exclude_bias"), a.Bool("clip"), a.Bool("gc"))));

        r.Add(new("lamb", Array.Empty<string>(), "layer-wise adaptive moments",
            "You et al. 2020, Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
            "r = m_hat/(sqrt(v_hat) + eps); u = r + lambda*w; w -= lr*(phi(|w|)/|u|)*u (1 if a norm is 0), phi(z) = min(z, clamp)",
            new[]
            {
                Lr, Beta1, Beta2, Eps with { Default = "1e-06" }, WeightDecay with { Default = "0.01" },
                SpecKey.OptionalReal("clamp", null, "upper bound on |w| in the trust ratio, > 0; null = none"), Gc,
            },
            (a, p) => new Lamb(p, a.Real("lr"), a.Real("beta1"), a.Real("beta2"), a.Real("eps"), a.Real("weight_decay"), a.OptionalReal("clamp"), gc: a.Bool("gc"))));

        r.Add(new("lans", Array.Empty<string>(), "LAMB on block-normalized gradients with a Nesterov-style combination",
            "Zheng, Lin, Zha & Li 2020, Accelerated Large Batch Optimization of BERT Pretraining in 54 minutes",
            "g^ = g/|g|; r = m_hat/d + lambda*w; c = g^/d + lambda*w, d = sqrt(v_hat) + eps; w -= lr*(beta1*|w|/|r|*r + (1 - beta1)*|w|/|c|*c)",
            new[] { Lr, Beta1, Beta2, Eps with { Default = "1e-06" }, WeightDecay },
            (a, p) => new Lans(p, a.Real("lr"), a.Real("beta1"), a.Real("beta2"), a.Real("eps"), a.Real("weight_decay"))));

        r.Add(new("gradnorm", new[] { "bng" }, "layer-wise gradient normalization around an inner optimizer",
            "Yu, Huang, Lin, Salakhutdinov & Carbonell 2017, Block-Normalized Gradient Method: An Empirical Study for Training Deep Neural Network",
            "g <- g/|g| per parameter tensor (0 stays 0), then the inner optimizer's step",
            new[] { SpecKey.Nested("inner", "sgd", "the optimizer that steps on the normalized gradients, a spec such as sgd(lr=0.1,momentum=0.9)") },
            (a, p) => new LayerwiseGradNorm(Registry.Create(a.Nested("inner"), p))));
        return r;
    }
}
