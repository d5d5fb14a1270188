<?xml version="1.0" encoding="UTF-8"?>
<!-- lienthong: the SRU responses shown as a search page when opened in a browser.
     The responses stay standard XML; browsers apply this stylesheet because each response
     links it with an xml-stylesheet processing instruction. XSLT 1.0, no extensions. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:srw1="http://www.loc.gov/zing/srw/"
    xmlns:srw2="http://docs.oasis-open.org/ns/search-ws/sruResponse"
    xmlns:scan="http://docs.oasis-open.org/ns/search-ws/scan"
    xmlns:diag1="http://www.loc.gov/zing/srw/diagnostic/"
    xmlns:diag2="http://docs.oasis-open.org/ns/search-ws/diagnostic"
    xmlns:zr="http://explain.z3950.org/dtd/2.0/"
    xmlns:marc="http://www.loc.gov/MARC21/slim"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:mods="http://www.loc.gov/mods/v3"
    exclude-result-prefixes="srw1 srw2 scan diag1 diag2 zr marc dc mods">

  <xsl:output method="html" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <html lang="vi">
      <head>
        <meta charset="utf-8"/>
        <title>Tra cứu liên thông (SRU)</title>
        <style>
          body { font-family: system-ui, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
                 max-width: 52em; color: #222; }
          form { margin-bottom: 1.5em; } input[type=text] { width: 60%; padding: .3em; }
          li { margin-bottom: .8em; } .muted { color: #666; font-size: .9em; }
          .diag { background: #fff3f3; border-left: 4px solid #c33; padding: .5em 1em; }
        </style>
      </head>
      <body>
        <h1>Tra cứu liên thông <span class="muted">(Union catalogue search, SRU)</span></h1>
        <form method="get" action="">
          <input type="text" name="query" placeholder="dc.title = &quot;truyen kieu&quot;"/>
          <input type="hidden" name="recordSchema" value="dc"/>
          <xsl:text> </xsl:text>
          <input type="submit" value="Tìm / Search"/>
          <p class="muted">CQL, có hoặc không dấu: <code>dc.title = "truyen kieu"</code>,
            <code>dc.creator = "nguyễn du" and dc.date &gt;= 2000</code>.</p>
        </form>
        <xsl:apply-templates/>
      </body>
    </html>
  </xsl:template>

  <!-- searchRetrieve, any version -->
  <xsl:template match="srw1:searchRetrieveResponse | srw2:searchRetrieveResponse">
    <p><strong><xsl:value-of select="*[local-name()='numberOfRecords']"/></strong>
      biểu ghi / records</p>
    <xsl:apply-templates select="*[local-name()='diagnostics']"/>
    <ol start="{*[local-name()='records']/*[1]/*[local-name()='recordPosition']}">
      <xsl:for-each select="*[local-name()='records']/*[local-name()='record']">
        <li><xsl:apply-templates select="*[local-name()='recordData']/*"/></li>
      </xsl:for-each>
    </ol>
    <xsl:if test="*[local-name()='nextRecordPosition']">
      <p class="muted">Trang sau: startRecord=<xsl:value-of
        select="*[local-name()='nextRecordPosition']"/></p>
    </xsl:if>
  </xsl:template>

  <xsl:template match="dc:*[local-name()='dc'] | *[local-name()='dc']">
    <strong><xsl:value-of select="dc:title[1]"/></strong>
    <xsl:for-each select="dc:creator"><br/><xsl:value-of select="."/></xsl:for-each>
    <div class="muted">
      <xsl:value-of select="dc:publisher[1]"/><xsl:text> </xsl:text>
      <xsl:value-of select="dc:date[1]"/>
      <xsl:for-each select="dc:identifier"> · <xsl:value-of select="."/></xsl:for-each>
    </div>
  </xsl:template>

  <xsl:template match="marc:record">
    <strong><xsl:value-of select="marc:datafield[@tag='245']/marc:subfield[@code='a']"/>
      <xsl:text> </xsl:text>
      <xsl:value-of select="marc:datafield[@tag='245']/marc:subfield[@code='b']"/></strong>
    <br/><xsl:value-of select="marc:datafield[@tag='100' or @tag='110']/marc:subfield[@code='a']"/>
    <div class="muted"><xsl:value-of
      select="marc:datafield[@tag='264' or @tag='260']/marc:subfield[@code='c']"/></div>
  </xsl:template>

  <xsl:template match="mods:mods">
    <strong><xsl:value-of select="mods:titleInfo[1]/mods:title"/></strong>
    <br/><xsl:value-of select="mods:name[1]/mods:namePart[1]"/>
    <div class="muted"><xsl:value-of select="mods:originInfo[1]/mods:dateIssued[1]"/></div>
  </xsl:template>

  <!-- scan -->
  <xsl:template match="srw1:scanResponse | scan:scanResponse">
    <xsl:apply-templates select="*[local-name()='diagnostics']"/>
    <table>
      <xsl:for-each select="*[local-name()='terms']/*[local-name()='term']">
        <tr><td><xsl:value-of select="*[local-name()='displayTerm']"/></td>
          <td class="muted"><xsl:value-of select="*[local-name()='numberOfRecords']"/></td></tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <!-- explain -->
  <xsl:template match="srw1:explainResponse | srw2:explainResponse">
    <xsl:variable name="z" select=".//zr:explain"/>
    <h2><xsl:value-of select="$z/zr:databaseInfo/zr:title[@lang='vi']"/></h2>
    <p><xsl:value-of select="$z/zr:databaseInfo/zr:description[@lang='vi']"/></p>
    <p class="muted"><xsl:value-of select="$z/zr:serverInfo/zr:database/@numRecs"/>
      biểu ghi / records</p>
    <h3>Chỉ mục / Indexes</h3>
    <ul>
      <xsl:for-each select="$z/zr:indexInfo/zr:index">
        <li><xsl:value-of select="zr:title[@lang='vi']"/> / <xsl:value-of
          select="zr:title[@lang='en']"/>:
          <code><xsl:for-each select="zr:map/zr:name"><xsl:value-of select="@set"/>.<xsl:value-of
            select="."/><xsl:if test="position() != last()">, </xsl:if></xsl:for-each></code></li>
      </xsl:for-each>
    </ul>
    <xsl:apply-templates select="*[local-name()='diagnostics']"/>
  </xsl:template>

  <xsl:template match="*[local-name()='diagnostics']">
    <xsl:for-each select="*[local-name()='diagnostic']">
      <div class="diag"><strong><xsl:value-of select="*[local-name()='message']"/></strong>
        <xsl:text> </xsl:text><span class="muted">(<xsl:value-of
          select="*[local-name()='uri']"/>)</span><br/>
        <xsl:value-of select="*[local-name()='details']"/></div>
    </xsl:for-each>
  </xsl:template>

  <xsl:template match="text()"/>
</xsl:stylesheet>
