<?xml version="1.0" encoding="utf-8"?>
<!-- kcna-monitor: an Atom feed as a readable page, for a browser that opens it. Feed readers
     ignore this stylesheet. Text is copied as text, so markup in an article stays inert. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>

  <xsl:template match="/atom:feed">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="atom:title"/></title>
        <link rel="stylesheet" href="/static/style.css"/>
      </head>
      <body>
        <header class="site">
          <a class="brand" href="/">kcna-monitor</a>
          <nav>
            <a href="/">Archive</a>
            <a href="/sources">Sources</a>
            <a href="/watch">Watch</a>
          </nav>
          <form class="search" action="/search" method="get" role="search">
            <input type="search" name="q" placeholder="Search the archive" aria-label="Search the archive"/>
            <button type="submit">Search</button>
          </form>
        </header>
        <main>
          <h1><xsl:value-of select="atom:title"/></h1>
          <p class="feed-about">
            This is an Atom feed. Subscribe by copying this URL into a feed reader:
          </p>
          <p class="feed-url"><code><xsl:value-of select="atom:link[@rel='self']/@href"/></code></p>
          <xsl:if test="atom:subtitle">
            <p class="meta">
              <xsl:value-of select="atom:subtitle"/>
              <xsl:if test="atom:link[@rel='alternate']">
                <xsl:text> · </xsl:text>
                <a href="{atom:link[@rel='alternate']/@href}">open as a page</a>
              </xsl:if>
            </p>
          </xsl:if>
          <p class="count"><xsl:value-of select="count(atom:entry)"/> entries</p>
          <ol class="results">
            <xsl:apply-templates select="atom:entry"/>
          </ol>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <a class="title" href="{atom:link[@rel='alternate']/@href}">
        <xsl:value-of select="atom:title"/>
      </a>
      <div class="meta">
        <xsl:choose>
          <xsl:when test="atom:published">
            <xsl:value-of select="substring(atom:published, 1, 10)"/>
          </xsl:when>
          <xsl:otherwise>undated</xsl:otherwise>
        </xsl:choose>
        <xsl:if test="atom:category">
          <xsl:text> · </xsl:text><xsl:value-of select="atom:category/@term"/>
        </xsl:if>
        <xsl:text> · seen </xsl:text>
        <xsl:value-of select="translate(substring(atom:updated, 1, 16), 'T', ' ')"/>
        <xsl:if test="atom:link[@rel='related']">
          <xsl:text> · </xsl:text>
          <a href="{atom:link[@rel='related']/@href}" rel="noopener noreferrer nofollow">original</a>
        </xsl:if>
      </div>
      <p class="snippet"><xsl:value-of select="atom:summary"/></p>
    </li>
  </xsl:template>
</xsl:stylesheet>
