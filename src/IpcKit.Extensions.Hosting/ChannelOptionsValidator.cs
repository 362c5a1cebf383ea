using Microsoft.Extensions.Options;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// Checks a channel's options when the host starts (<c>ValidateOnStart</c>), the way the pipe or ring itself would when
/// it opens, so a bad value stops the start with a message naming the configuration key, the option and the value,
/// instead of failing later in the background.
/// </summary>
internal sealed class ChannelOptionsValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    private readonly IpcKitRegistry _registry;
    private readonly PairingState _pairing;

    public ChannelOptionsValidator(IpcKitRegistry registry, PairingState pairing)
    {
        _registry = registry;
        _pairing = pairing;
    }

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ChannelKind kind = options switch
        {
            HostedPipeServerOptions => ChannelKind.PipeServer,
            HostedPipeClientOptions => ChannelKind.PipeClient,
            HostedRingConsumerOptions => ChannelKind.RingConsumer,
            _ => ChannelKind.RingProducer,
        };
        if (name is null || _registry.Find(name, kind) is not ChannelRegistration channel)
        {
            return ValidateOptionsResult.Skip;
        }

        try
        {
            switch (options)
            {
                case HostedPipeOptions pipe:
                    string pipeName = _pairing.Resolve(name, pipe.Name);
                    PipeApi.Validate(pipeName, pipe);
                    if (pipe is HostedPipeClientOptions client)
                    {
                        Durations.Positive(client.RetryDelay, nameof(client.RetryDelay));
                        Durations.Positive(client.MaxRetryDelay, nameof(client.MaxRetryDelay));
                    }

                    break;
                case HostedRingOptions ring:
                    RingApi.Validate(_pairing.Resolve(name, ring.Name), ring);
                    break;
            }
        }
        catch (ArgumentException exception)
        {
            return ValidateOptionsResult.Fail($"{channel.Describe()} ({channel.ConfigurationPath}): {exception.Message.ReplaceLineEndings(" ")}");
        }

        return ValidateOptionsResult.Success;
    }
}
