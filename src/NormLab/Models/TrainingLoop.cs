using NormLab.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>
/// One-epoch training and evaluation over a batch iterator. Each batch, from drawing it to the optimizer
/// step, runs in its own dispose scope, so native memory stays flat however many batches run.
/// </summary>
public static class TrainingLoop
{
    /// <summary>
    /// Trains <paramref name="model"/> for one pass over <paramref name="batches"/>: zero_grad, forward,
    /// loss, backward, optimizer step (then <paramref name="afterStep"/>, e.g. a per-iteration scheduler).
    /// </summary>
    /// <param name="model">The model; put in training mode.</param>
    /// <param name="optimizer">Any TorchSharp optimizer over the model's parameters.</param>
    /// <param name="batches">(inputs, int64 labels) pairs, e.g. <see cref="Data.LabeledDataset.TrainBatches"/>.</param>
    /// <param name="loss">Mean loss of (logits, labels); default cross-entropy.</param>
    /// <param name="afterStep">Called after every optimizer step with that batch's loss (default none).</param>
    /// <param name="stopOnNonFinite">Stop at the first NaN or infinite batch loss (default true), returning it.</param>
    /// <param name="parallel">
    /// Data-parallel training (default none): <paramref name="batches"/> are global batches, of which this
    /// process trains its shard; the loss is weighted by the shard's share, gradients are summed across
    /// processes before each step, and the losses reported are global. Global batches with fewer samples
    /// than processes are skipped.
    /// </param>
    /// <returns>The sample-weighted mean of the batch losses (each measured before its step); NaN or ±∞ once a batch loss is not finite; NaN for no batches.</returns>
    public static double Epoch(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, IEnumerable<(Tensor X, Tensor Y)> batches,
        Func<Tensor, Tensor, Tensor>? loss = null, Action<double>? afterStep = null, bool stopOnNonFinite = true, DataParallel? parallel = null)
    {
        loss ??= (logits, labels) => nn.functional.cross_entropy(logits, labels);
        model.train();
        double total = 0;
        long count = 0;
        using var e = batches.GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!e.MoveNext()) break;
            var (x, y) = e.Current;
            long n = x.shape[0];
            double value;
            optimizer.zero_grad();
            if (parallel is null)
            {
                var l = loss(model.call(x), y);
                l.backward();
                optimizer.step();
                value = l.ToDouble();
            }
            else
            {
                if (parallel.Shard(x, y) is not var (xs, ys, weight)) continue;
                var l = loss(model.call(xs), ys) * weight;
                l.backward();
                parallel.AllReduceGradients();
                optimizer.step();
                value = parallel.World.Sum(l.ToDouble());
            }
            afterStep?.Invoke(value);
            total += value * n;
            count += n;
            if (!double.IsFinite(value) && stopOnNonFinite) return value;
        }
        return count == 0 ? double.NaN : total / count;
    }

    /// <summary>Mean loss and accuracy of <paramref name="model"/> (in eval mode, without gradients) over <paramref name="batches"/>.</summary>
    /// <param name="model">The model; put in eval mode.</param>
    /// <param name="batches">(inputs, int64 labels) pairs.</param>
    /// <param name="loss">Mean loss of (logits, labels); default cross-entropy.</param>
    /// <param name="parallel">Data-parallel evaluation (default none): each process evaluates its shard of every global batch and the totals are summed; batches with fewer samples than processes are skipped.</param>
    /// <returns>Sample-weighted mean loss and the fraction of correct arg-max predictions (NaN for no batches).</returns>
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor X, Tensor Y)> batches,
        Func<Tensor, Tensor, Tensor>? loss = null, DataParallel? parallel = null)
    {
        loss ??= (logits, labels) => nn.functional.cross_entropy(logits, labels);
        model.eval();
        double total = 0;
        long correct = 0, count = 0;
        using var noGrad = no_grad();
        using var e = batches.GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!e.MoveNext()) break;
            var (x, y) = e.Current;
            if (parallel is not null)
            {
                if (parallel.Shard(x, y) is not var (xs, ys, _)) continue;
                (x, y) = (xs, ys);
            }
            var logits = model.call(x);
            total += loss(logits, y).ToDouble() * x.shape[0];
            correct += logits.argmax(1).eq(y).sum().item<long>();
            count += x.shape[0];
        }
        if (parallel is not null)
        {
            var sums = new[] { total, correct, count };
            parallel.World.AllReduceSum(sums);
            (total, correct, count) = (sums[0], (long)sums[1], (long)sums[2]);
        }
        return count == 0 ? (double.NaN, double.NaN) : (total / count, (double)correct / count);
    }
}
