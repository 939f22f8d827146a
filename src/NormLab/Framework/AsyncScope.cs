using System.Runtime.CompilerServices;

namespace NormLab.Framework;

/// <summary>
/// A value that a <c>using</c> scope overrides for the current async flow (so parallel tests and
/// routines do not interfere): <see cref="Use"/> sets it, disposing the scope restores the previous one.
/// </summary>
internal sealed class AsyncScope<T>
{
    private readonly AsyncLocal<StrongBox<T>?> _value = new();

    /// <summary>The innermost scope's value; false outside every scope.</summary>
    public bool TryGet(out T value)
    {
        var box = _value.Value;
        value = box is null ? default! : box.Value!;
        return box is not null;
    }

    /// <summary>Uses <paramref name="value"/> until the returned scope is disposed.</summary>
    public IDisposable Use(T value)
    {
        var previous = _value.Value;
        _value.Value = new StrongBox<T>(value);
        return new Restore(() => _value.Value = previous);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        private Action? _undo = undo;
        public void Dispose() { _undo?.Invoke(); _undo = null; }
    }
}
