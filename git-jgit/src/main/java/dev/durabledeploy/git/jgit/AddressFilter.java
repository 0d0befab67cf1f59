package dev.durabledeploy.git.jgit;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Decides which network addresses a clone may connect to, after the URL's host has been resolved:
 * every address an {@code https}/{@code http} host (redirects included) or an {@code ssh} host
 * resolves to is checked right before the connection, so a tenant's URL cannot reach what the host
 * did not mean to expose (a cloud metadata endpoint, an internal service).
 *
 * <p>The default, {@link #NOT_LINK_LOCAL}, refuses only addresses where no git server lives. A host
 * that clones URLs its tenants choose should use {@link #publicOnly()} or its own filter.
 */
@FunctionalInterface
public interface AddressFilter {

  /** Whether a clone may connect to {@code address}, which {@code host} resolved to. */
  boolean permits(String host, InetAddress address);

  /** Every address. */
  AddressFilter ANY = (host, address) -> true;

  /**
   * Refuses link-local addresses (169.254.0.0/16, where cloud metadata endpoints such as
   * 169.254.169.254 live, and fe80::/10), the unspecified address (0.0.0.0, ::) and multicast. The
   * default: loopback and private networks stay reachable for self-hosted git servers.
   */
  AddressFilter NOT_LINK_LOCAL =
      (host, address) ->
          !(address.isLinkLocalAddress()
              || address.isAnyLocalAddress()
              || address.isMulticastAddress()
              || isZeroNetwork(address));

  /**
   * Only public internet addresses: refuses, besides {@link #NOT_LINK_LOCAL}, loopback
   * (127.0.0.0/8, ::1), private networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7,
   * fec0::/10) and shared address space (100.64.0.0/10). For hosts that clone URLs their tenants
   * choose.
   */
  static AddressFilter publicOnly() {
    return (host, address) ->
        NOT_LINK_LOCAL.permits(host, address)
            && !address.isLoopbackAddress()
            && !address.isSiteLocalAddress()
            && !isUniqueLocal(address)
            && !isSharedAddressSpace(address);
  }

  private static boolean isZeroNetwork(InetAddress address) {
    return address instanceof Inet4Address && address.getAddress()[0] == 0;
  }

  private static boolean isUniqueLocal(InetAddress address) {
    return address instanceof Inet6Address && (address.getAddress()[0] & 0xfe) == 0xfc;
  }

  private static boolean isSharedAddressSpace(InetAddress address) {
    byte[] b = address.getAddress();
    return address instanceof Inet4Address && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64;
  }
}
