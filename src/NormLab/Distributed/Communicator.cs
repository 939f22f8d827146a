using System.Runtime.InteropServices;
using NormLab.Framework;

namespace NormLab.Distributed;

/// <summary>
/// The processes of a data-parallel job and the collectives NormLab needs among them: all-reduce (sum),
/// broadcast and barrier. <see cref="World"/> is the job this process belongs to: every process started
/// by <c>mpirun</c>, or this process alone.
/// </summary>
/// <remarks>
/// Every process must call the same collectives in the same order with buffers of the same length.
/// Collectives never throw: a failure or a peer that stops responding ends the process with a one-line
/// error (see <see cref="MpiCommunicator"/>), because a collective may run inside an autograd backward,
/// where LibTorch aborts the process on exceptions.
/// </remarks>
public abstract class Communicator
{
    private static readonly object Gate = new();
    private static readonly AsyncScope<Communicator> Scoped = new();
    private static Communicator? _world;

    /// <summary>This process's index in the job, 0 ≤ Rank &lt; Size.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of processes in the job.</summary>
    public abstract int Size { get; }

    /// <summary>Whether this process is rank 0, the one that writes outputs.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Replaces every element by its sum over all processes.</summary>
    public abstract void AllReduceSum(Span<double> buffer);

    /// <summary>Replaces every element by its sum over all processes.</summary>
    public abstract void AllReduceSum(Span<float> buffer);

    /// <summary>Copies <paramref name="buffer"/> of process <paramref name="root"/> into every process's buffer.</summary>
    public abstract void Broadcast(Span<byte> buffer, int root = 0);

    /// <summary>Returns when every process has called it.</summary>
    public abstract void Barrier();

    /// <summary>Broadcasts a buffer of any unmanaged element type from <paramref name="root"/>.</summary>
    public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged => Broadcast(MemoryMarshal.AsBytes(buffer), root);

    /// <summary>The sum of one value over all processes.</summary>
    public double Sum(double value)
    {
        Span<double> one = stackalloc double[] { value };
        AllReduceSum(one);
        return one[0];
    }

    /// <summary>"rank 1/3", for messages.</summary>
    public override string ToString() => $"rank {Rank}/{Size}";

    /// <summary>
    /// The job this process belongs to: the communicator of an enclosing <see cref="Use"/> scope; else all
    /// processes of an MPI launch (<see cref="MpiCommunicator"/>, initialized on first use) when
    /// <see cref="Launched"/>; else this process alone (<see cref="SingleProcess"/>). Nothing loads MPI
    /// before this is first read.
    /// </summary>
    /// <exception cref="DistributedException">launched by mpirun, but Open MPI cannot be loaded or initialized.</exception>
    public static Communicator World
    {
        get
        {
            if (Scoped.TryGet(out var scoped)) return scoped;
            lock (Gate)
                return _world ??= Launched ? MpiCommunicator.Start() : SingleProcess.Instance;
        }
    }

    /// <summary>
    /// Makes <paramref name="world"/> the <see cref="World"/> of the current async flow until the returned
    /// scope is disposed: for a sub-group, or an in-process stand-in for several processes in tests.
    /// </summary>
    public static IDisposable Use(Communicator world)
    {
        ArgumentNullException.ThrowIfNull(world);
        return Scoped.Use(world);
    }

    /// <summary>
    /// Whether an MPI launcher started this process: Open MPI's <c>mpirun</c> (<c>OMPI_COMM_WORLD_SIZE</c>)
    /// or a PMIx/PMI launcher (<c>PMIX_RANK</c>, <c>PMI_SIZE</c>).
    /// </summary>
    public static bool Launched =>
        new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE" }.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>
    /// The MPI job this process belongs to; unlike <see cref="World"/>, a process that no MPI launcher
    /// started is an error rather than a job of one.
    /// </summary>
    /// <exception cref="DistributedException">not started by mpirun, or Open MPI cannot be loaded or initialized.</exception>
    public static Communicator RequireMpi() =>
        Launched ? World
            : throw new DistributedException("MPI: this process was not started by an MPI launcher (no OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE in its environment); run it as 'mpirun -np P ...'");
}

/// <summary>A job of one process: every collective leaves its buffer unchanged.</summary>
public sealed class SingleProcess : Communicator
{
    /// <summary>The single-process job.</summary>
    public static SingleProcess Instance { get; } = new();

    private SingleProcess() { }

    /// <inheritdoc />
    public override int Rank => 0;

    /// <inheritdoc />
    public override int Size => 1;

    /// <inheritdoc />
    public override void AllReduceSum(Span<double> buffer) { }

    /// <inheritdoc />
    public override void AllReduceSum(Span<float> buffer) { }

    /// <inheritdoc />
    public override void Broadcast(Span<byte> buffer, int root = 0)
    {
        if (root != 0) throw new ArgumentException($"root ({root}) must be 0 in a single-process job", nameof(root));
    }

    /// <inheritdoc />
    public override void Barrier() { }
}
