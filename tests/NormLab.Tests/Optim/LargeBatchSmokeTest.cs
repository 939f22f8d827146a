using NormLab.Data;
using NormLab.Models;
using NormLab.Optim;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NormLab.Tests.Optim;

/// <summary>
/// Large-batch smoke test: on the synthetic images (noise 0.2), at batch 512 with the cross-entropy summed
/// over the batch (so the gradient grows with the batch size, as it does under the linear scaling rule),
/// one learning rate, 0.1, makes plain SGD diverge (with and without momentum) while LARS and LAMB train
/// the small CNN with batch normalization. Asserts on the measured losses only. LARS's and LAMB's steps are set per layer by ‖w‖ (trust ratio), so the
/// gradient's scale does not enter them; LARS's relative step is lr·η, so η = 0.3 here equals the
/// paper's η = 0.001 at lr = 30.
/// </summary>
public class LargeBatchSmokeTest(ITestOutputHelper output)
{
    private const int Batch = 512;
    private const int Epochs = 3;
    private const double Lr = 0.1;
    private static readonly double Chance = Math.Log(10);
    private static readonly double Exploded = 5 * Chance;

    private static double[] Train(Func<IEnumerable<TorchSharp.Modules.Parameter>, NormOptimizer> create, LabeledDataset data)
    {
        var model = new SmallCnn("bn", widths: new long[] { 8, 16, 32 }, seed: 1);
        using var optimizer = create(model.parameters());
        var shuffle = new Generator(5);
        var losses = new List<double>();
        for (int e = 0; e < Epochs; e++)
        {
            // Per-sample mean, for comparison with chance (ln 10); the step itself sees the summed loss.
            double sum = TrainingLoop.Epoch(model, optimizer, data.TrainBatches(Batch, shuffle),
                (logits, labels) => nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum));
            losses.Add(sum / Batch);
            if (!double.IsFinite(losses[^1]) || losses[^1] > Exploded) break; // diverged: no need to go on
        }
        return losses.ToArray();
    }

    [Fact]
    public void Lars_and_lamb_train_at_a_learning_rate_where_plain_sgd_diverges()
    {
        using var data = SyntheticData.Images(seed: 5, train: 4 * Batch, test: 16, options: new SyntheticOptions(Noise: 0.2));

        var sgd = Train(ps => new Sgd(ps, lr: Lr), data);
        var sgdMomentum = Train(ps => new Sgd(ps, lr: Lr, momentum: 0.9), data);
        var lars = Train(ps => new Lars(ps, lr: Lr, eta: 0.3), data);
        var lamb = Train(ps => new Lamb(ps, lr: Lr), data);

        string Show(double[] l) => string.Join(", ", l.Select(x => x.ToString("G4")));
        output.WriteLine($"per-epoch mean loss, lr {Lr}, batch {Batch}: SGD {Show(sgd)}; SGD+momentum {Show(sgdMomentum)}; LARS {Show(lars)}; LAMB {Show(lamb)}");
        Assert.True(!double.IsFinite(sgd[^1]) || sgd[^1] > Exploded, $"plain SGD did not diverge: {Show(sgd)}");
        Assert.True(!double.IsFinite(sgdMomentum[^1]) || sgdMomentum[^1] > Exploded, $"SGD with momentum did not diverge: {Show(sgdMomentum)}");
        foreach (var (name, l) in new[] { ("LARS", lars), ("LAMB", lamb) })
        {
            Assert.True(l.All(double.IsFinite), $"{name} diverged: {Show(l)}");
            Assert.True(l[^1] < l[0] - 0.2 && l[^1] < 0.9 * Chance, $"{name} did not train: {Show(l)}");
        }
    }
}
