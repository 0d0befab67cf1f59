package dev.durabledeploy.core.deploy;

import dev.durabledeploy.spi.metadata.Alias;
import dev.durabledeploy.spi.metadata.Deploy;

/** The outcome of a finalize: the now ACTIVE deploy and the alias that points at it. */
public record Finalized(Deploy deploy, Alias alias) {}
