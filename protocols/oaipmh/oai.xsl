<?xml version="1.0" encoding="UTF-8"?>
<!-- lienthong: OAI-PMH responses shown as a page a librarian can read in a browser.
     The responses stay standard OAI-PMH XML for harvesters; a browser applies this
     stylesheet because every response links it with an xml-stylesheet processing
     instruction. XSLT 1.0 without extensions (what browsers run); no document() either,
     so the lookup tables (verb, Dublin Core and error names) are templates.
     Every link is relative ("?verb=..."), so the page works under any base URL. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:oai="http://www.openarchives.org/OAI/2.0/"
    xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:marc="http://www.loc.gov/MARC21/slim"
    xmlns:prov="http://www.openarchives.org/OAI/2.0/provenance"
    xmlns:oaiid="http://www.openarchives.org/OAI/2.0/oai-identifier"
    exclude-result-prefixes="oai oai_dc dc marc prov oaiid">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:variable name="request" select="/oai:OAI-PMH/oai:request"/>
  <xsl:variable name="verb" select="string($request/@verb)"/>
  <!-- The format links on this page keep: the one asked for, else the one the records are
       in (a page reached with a resumption token names no metadataPrefix). -->
  <xsl:variable name="prefix">
    <xsl:choose>
      <xsl:when test="$request/@metadataPrefix and not(/oai:OAI-PMH/oai:error)">
        <xsl:value-of select="$request/@metadataPrefix"/>
      </xsl:when>
      <xsl:when test="(//oai:metadata)[1]/marc:record">marc21</xsl:when>
      <xsl:when test="(//oai:metadata)[1]/*[local-name() = 'mods']">mods</xsl:when>
      <xsl:otherwise>oai_dc</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- Characters that would change the meaning of a query string, and their escapes
       (three characters each, same order); '%' comes first so escapes stay intact. -->
  <xsl:variable name="url-specials" select="'%&amp;+# =?;'"/>
  <xsl:variable name="url-escapes" select="'%25%26%2B%23%20%3D%3F%3B'"/>

  <!-- == the page ====================================================================== -->
  <xsl:template match="/">
    <html lang="vi">
      <head>
        <title>
          <xsl:call-template name="heading"/>
          <xsl:text> – OAI-PMH</xsl:text>
        </title>
        <style>
          body { font-family: system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif;
                 margin: 0 auto; max-width: 64em; padding: 0 1em 2em; color: #222;
                 line-height: 1.45; }
          header { border-bottom: 2px solid #2a5d8f; margin-bottom: 1em; }
          h1 { font-size: 1.4em; margin: .6em 0 .3em; color: #2a5d8f; }
          h2 { font-size: 1.25em; } h3 { font-size: 1.05em; margin: .2em 0 .4em; }
          h4 { font-size: .95em; margin: .8em 0 .2em; color: #555; }
          nav { display: flex; flex-wrap: wrap; gap: .3em; margin: .4em 0; }
          nav a { padding: .2em .6em; border: 1px solid #bcd; border-radius: 4px;
                  text-decoration: none; background: #f4f8fc; }
          nav a.current { background: #2a5d8f; color: #fff; border-color: #2a5d8f; }
          form.lookup { margin: .4em 0 .8em; font-size: .9em; }
          form.lookup input[type=text] { width: 28em; max-width: 60%; }
          a { color: #1b5fa8; }
          table { border-collapse: collapse; margin: .3em 0; }
          th, td { text-align: left; vertical-align: top; padding: .15em .6em .15em 0; }
          th { font-weight: 600; color: #444; white-space: nowrap; }
          table.grid th, table.grid td { border-bottom: 1px solid #e3e3e3; padding: .3em .6em; }
          ol.records > li { margin-bottom: 1em; }
          .record { border: 1px solid #ddd; border-radius: 6px; padding: .5em .9em; }
          .record.deleted { background: #fbf4f4; border-color: #d9a5a5; }
          .status-deleted { color: #fff; background: #b03030; border-radius: 3px;
                            padding: 0 .4em; font-weight: 600; }
          .en, .muted { color: #666; font-size: .9em; }
          code, .marc td { font-family: ui-monospace, Menlo, Consolas, monospace; }
          .marc td { white-space: pre-wrap; padding: 0 .6em 0 0; }
          .marc .tag { color: #2a5d8f; font-weight: 600; }
          .marc .code { color: #b05a00; font-weight: 600; }
          .paging { background: #f4f8fc; padding: .4em .8em; border-radius: 4px; }
          .paging a.next { font-weight: 600; margin-left: 1em; }
          .error { background: #fff3f3; border-left: 4px solid #c33; padding: .5em 1em;
                   margin: .6em 0; }
          .error .code { font-family: ui-monospace, Menlo, Consolas, monospace;
                         font-weight: 700; color: #a00; }
          .sub { padding-left: 1.5em; }
          footer { margin-top: 2em; border-top: 1px solid #ddd; padding-top: .5em; }
        </style>
      </head>
      <body>
        <header>
          <h1>Kho OAI-PMH liên thông <span class="en">/ OAI-PMH repository</span></h1>
          <xsl:call-template name="navigation"/>
          <xsl:call-template name="lookup-form"/>
        </header>
        <main>
          <h2><xsl:call-template name="heading"/></h2>
          <xsl:apply-templates select="oai:OAI-PMH"/>
        </main>
        <footer class="muted">
          Trang này là phản hồi OAI-PMH 2.0 (XML) hiển thị qua oai.xsl; máy thu thập nhận
          nguyên XML. / This page is an OAI-PMH 2.0 XML response shown through oai.xsl;
          harvesters get the XML itself.
        </footer>
      </body>
    </html>
  </xsl:template>

  <xsl:template name="heading">
    <xsl:choose>
      <xsl:when test="/oai:OAI-PMH/oai:error">
        <xsl:text>Lỗi / Error</xsl:text>
        <xsl:if test="$verb">
          <xsl:text>: </xsl:text>
          <xsl:call-template name="verb-label"><xsl:with-param name="verb" select="$verb"/></xsl:call-template>
        </xsl:if>
      </xsl:when>
      <xsl:when test="$verb">
        <xsl:call-template name="verb-label"><xsl:with-param name="verb" select="$verb"/></xsl:call-template>
      </xsl:when>
      <xsl:otherwise>OAI-PMH</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="verb-label">
    <xsl:param name="verb"/>
    <xsl:choose>
      <xsl:when test="$verb = 'Identify'">Thông tin kho / Identify</xsl:when>
      <xsl:when test="$verb = 'ListMetadataFormats'">Định dạng dữ liệu / ListMetadataFormats</xsl:when>
      <xsl:when test="$verb = 'ListSets'">Tập biểu ghi / ListSets</xsl:when>
      <xsl:when test="$verb = 'GetRecord'">Một biểu ghi / GetRecord</xsl:when>
      <xsl:when test="$verb = 'ListIdentifiers'">Danh sách định danh / ListIdentifiers</xsl:when>
      <xsl:when test="$verb = 'ListRecords'">Danh sách biểu ghi / ListRecords</xsl:when>
      <xsl:otherwise><xsl:value-of select="$verb"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="navigation">
    <!-- GetRecord needs an identifier: the one asked about, else the first on the page,
         else the sample Identify gives. -->
    <xsl:variable name="some-identifier"
        select="($request/@identifier | (//oai:header/oai:identifier)[1] | //oaiid:sampleIdentifier)[1]"/>
    <nav>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'Identify'"/>
        <xsl:with-param name="href" select="'?verb=Identify'"/>
      </xsl:call-template>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'ListMetadataFormats'"/>
        <xsl:with-param name="href" select="'?verb=ListMetadataFormats'"/>
      </xsl:call-template>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'ListSets'"/>
        <xsl:with-param name="href" select="'?verb=ListSets'"/>
      </xsl:call-template>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'ListIdentifiers'"/>
        <xsl:with-param name="href" select="'?verb=ListIdentifiers&amp;metadataPrefix=oai_dc'"/>
      </xsl:call-template>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'ListRecords'"/>
        <xsl:with-param name="href" select="'?verb=ListRecords&amp;metadataPrefix=oai_dc'"/>
      </xsl:call-template>
      <xsl:call-template name="nav-item">
        <xsl:with-param name="for" select="'GetRecord'"/>
        <xsl:with-param name="href">
          <xsl:call-template name="query">
            <xsl:with-param name="verb" select="'GetRecord'"/>
            <xsl:with-param name="metadataPrefix" select="'oai_dc'"/>
            <xsl:with-param name="identifier" select="string($some-identifier)"/>
          </xsl:call-template>
        </xsl:with-param>
      </xsl:call-template>
    </nav>
  </xsl:template>

  <xsl:template name="nav-item">
    <xsl:param name="for"/>
    <xsl:param name="href"/>
    <a href="{$href}">
      <xsl:if test="$for = $verb"><xsl:attribute name="class">current</xsl:attribute></xsl:if>
      <xsl:call-template name="verb-label"><xsl:with-param name="verb" select="$for"/></xsl:call-template>
    </a>
  </xsl:template>

  <xsl:template name="lookup-form">
    <form class="lookup" method="get" action="">
      <input type="hidden" name="verb" value="GetRecord"/>
      <label>Tra định danh / Look up identifier:
        <xsl:text> </xsl:text>
        <input type="text" name="identifier" value="{$request/@identifier}"
               placeholder="oai:…:thư-viện/số-biểu-ghi"/></label>
      <xsl:text> </xsl:text>
      <select name="metadataPrefix">
        <xsl:call-template name="format-option"><xsl:with-param name="format" select="'oai_dc'"/></xsl:call-template>
        <xsl:call-template name="format-option"><xsl:with-param name="format" select="'marc21'"/></xsl:call-template>
        <xsl:call-template name="format-option"><xsl:with-param name="format" select="'mods'"/></xsl:call-template>
      </select>
      <xsl:text> </xsl:text>
      <input type="submit" value="Xem / Show"/>
    </form>
  </xsl:template>

  <xsl:template name="format-option">
    <xsl:param name="format"/>
    <option value="{$format}">
      <xsl:if test="$format = $prefix"><xsl:attribute name="selected">selected</xsl:attribute></xsl:if>
      <xsl:value-of select="$format"/>
    </option>
  </xsl:template>

  <!-- == the envelope =================================================================== -->
  <xsl:template match="oai:OAI-PMH">
    <table class="muted">
      <tr>
        <th>Yêu cầu / Request</th>
        <td>
          <code>
            <xsl:value-of select="oai:request"/>
            <xsl:for-each select="oai:request/@*">
              <xsl:choose>
                <xsl:when test="position() = 1">?</xsl:when>
                <xsl:otherwise>&amp;</xsl:otherwise>
              </xsl:choose>
              <xsl:value-of select="concat(name(), '=', .)"/>
            </xsl:for-each>
          </code>
        </td>
      </tr>
      <tr>
        <th>Thời điểm trả lời / Response date</th>
        <td><xsl:value-of select="oai:responseDate"/></td>
      </tr>
    </table>
    <xsl:apply-templates select="oai:error"/>
    <xsl:apply-templates select="oai:Identify | oai:ListMetadataFormats | oai:ListSets
                                 | oai:GetRecord | oai:ListIdentifiers | oai:ListRecords"/>
  </xsl:template>

  <!-- == errors ========================================================================= -->
  <xsl:template match="oai:error">
    <div class="error">
      <span class="code"><xsl:value-of select="@code"/></span>
      <xsl:text> — </xsl:text>
      <xsl:call-template name="error-meaning"><xsl:with-param name="code" select="@code"/></xsl:call-template>
      <br/>
      <span class="message"><xsl:value-of select="."/></span>
    </div>
  </xsl:template>

  <xsl:template name="error-meaning">
    <xsl:param name="code"/>
    <xsl:choose>
      <xsl:when test="$code = 'badArgument'">Tham số sai, thiếu hoặc lặp lại / Illegal, missing or repeated argument</xsl:when>
      <xsl:when test="$code = 'badResumptionToken'">Mã trang sau không hợp lệ hoặc đã hết hạn / Invalid or expired resumption token</xsl:when>
      <xsl:when test="$code = 'badVerb'">Lệnh (verb) sai, thiếu hoặc lặp lại / Illegal, missing or repeated verb</xsl:when>
      <xsl:when test="$code = 'cannotDisseminateFormat'">Kho không cung cấp định dạng này / Metadata format not available</xsl:when>
      <xsl:when test="$code = 'idDoesNotExist'">Không có biểu ghi mang định danh này / Unknown identifier</xsl:when>
      <xsl:when test="$code = 'noRecordsMatch'">Không có biểu ghi nào phù hợp / No records match</xsl:when>
      <xsl:when test="$code = 'noMetadataFormats'">Biểu ghi này không có định dạng nào / No metadata formats for this item</xsl:when>
      <xsl:when test="$code = 'noSetHierarchy'">Kho không chia tập / The repository has no sets</xsl:when>
      <xsl:otherwise>Lỗi / Error</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- == Identify ======================================================================= -->
  <xsl:template match="oai:Identify">
    <table class="grid">
      <tr><th>Tên kho / Repository name</th><td><strong><xsl:value-of select="oai:repositoryName"/></strong></td></tr>
      <tr><th>Địa chỉ gốc / Base URL</th><td><code><xsl:value-of select="oai:baseURL"/></code></td></tr>
      <tr><th>Phiên bản giao thức / Protocol version</th><td><xsl:value-of select="oai:protocolVersion"/></td></tr>
      <tr>
        <th>Email quản trị / Admin email</th>
        <td>
          <xsl:for-each select="oai:adminEmail">
            <xsl:if test="position() &gt; 1">, </xsl:if>
            <a href="mailto:{.}"><xsl:value-of select="."/></a>
          </xsl:for-each>
        </td>
      </tr>
      <tr><th>Ngày cập nhật sớm nhất / Earliest datestamp</th><td><xsl:value-of select="oai:earliestDatestamp"/></td></tr>
      <tr>
        <th>Biểu ghi đã xóa / Deleted records</th>
        <td>
          <xsl:choose>
            <xsl:when test="oai:deletedRecord = 'persistent'">giữ mãi / kept forever</xsl:when>
            <xsl:when test="oai:deletedRecord = 'transient'">giữ một thời gian / kept for a while</xsl:when>
            <xsl:when test="oai:deletedRecord = 'no'">không giữ / not kept</xsl:when>
          </xsl:choose>
          <span class="muted"> (<xsl:value-of select="oai:deletedRecord"/>)</span>
        </td>
      </tr>
      <tr><th>Độ chi tiết thời gian / Granularity</th><td><code><xsl:value-of select="oai:granularity"/></code></td></tr>
      <xsl:if test="oai:compression">
        <tr>
          <th>Nén / Compression</th>
          <td>
            <xsl:for-each select="oai:compression">
              <xsl:if test="position() &gt; 1">, </xsl:if>
              <xsl:value-of select="."/>
            </xsl:for-each>
          </td>
        </tr>
      </xsl:if>
    </table>
    <xsl:apply-templates select="oai:description"/>
  </xsl:template>

  <xsl:template match="oai:description[oaiid:oai-identifier]">
    <xsl:variable name="id" select="oaiid:oai-identifier"/>
    <h3>Định danh biểu ghi / OAI identifiers</h3>
    <table class="grid">
      <tr><th>Lược đồ / Scheme</th><td><xsl:value-of select="$id/oaiid:scheme"/></td></tr>
      <tr><th>Định danh kho / Repository identifier</th><td><code><xsl:value-of select="$id/oaiid:repositoryIdentifier"/></code></td></tr>
      <tr><th>Dấu phân cách / Delimiter</th><td><code><xsl:value-of select="$id/oaiid:delimiter"/></code></td></tr>
      <tr>
        <th>Định danh mẫu / Sample identifier</th>
        <td>
          <xsl:call-template name="identifier-links">
            <xsl:with-param name="identifier" select="string($id/oaiid:sampleIdentifier)"/>
          </xsl:call-template>
        </td>
      </tr>
    </table>
  </xsl:template>

  <xsl:template match="oai:description">
    <h3>Mô tả / Description</h3>
    <xsl:apply-templates select="*" mode="generic"/>
  </xsl:template>

  <!-- == ListMetadataFormats ============================================================ -->
  <xsl:template match="oai:ListMetadataFormats">
    <xsl:if test="$request/@identifier">
      <p>Định dạng của biểu ghi / Formats of the item
        <xsl:call-template name="identifier-links">
          <xsl:with-param name="identifier" select="string($request/@identifier)"/>
        </xsl:call-template>
      </p>
    </xsl:if>
    <table class="grid">
      <tr>
        <th>Tiền tố / Prefix</th>
        <th>Không gian tên / Namespace</th>
        <th>Lược đồ / Schema</th>
        <th>Xem / Browse</th>
      </tr>
      <xsl:for-each select="oai:metadataFormat">
        <tr>
          <td><code><xsl:value-of select="oai:metadataPrefix"/></code></td>
          <td><code><xsl:value-of select="oai:metadataNamespace"/></code></td>
          <td><a href="{oai:schema}"><xsl:value-of select="oai:schema"/></a></td>
          <td>
            <xsl:choose>
              <xsl:when test="$request/@identifier">
                <a>
                  <xsl:attribute name="href">
                    <xsl:call-template name="query">
                      <xsl:with-param name="verb" select="'GetRecord'"/>
                      <xsl:with-param name="metadataPrefix" select="string(oai:metadataPrefix)"/>
                      <xsl:with-param name="identifier" select="string($request/@identifier)"/>
                    </xsl:call-template>
                  </xsl:attribute>
                  <xsl:text>Biểu ghi / Record</xsl:text>
                </a>
              </xsl:when>
              <xsl:otherwise>
                <a>
                  <xsl:attribute name="href">
                    <xsl:call-template name="query">
                      <xsl:with-param name="verb" select="'ListRecords'"/>
                      <xsl:with-param name="metadataPrefix" select="string(oai:metadataPrefix)"/>
                    </xsl:call-template>
                  </xsl:attribute>
                  <xsl:text>Biểu ghi / Records</xsl:text>
                </a>
              </xsl:otherwise>
            </xsl:choose>
          </td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <!-- == ListSets ======================================================================= -->
  <xsl:template match="oai:ListSets">
    <xsl:if test="oai:resumptionToken">
      <xsl:call-template name="paging"><xsl:with-param name="shown" select="count(oai:set)"/></xsl:call-template>
    </xsl:if>
    <table class="grid">
      <tr>
        <th>Mã tập / Set spec</th>
        <th>Tên tập / Set name</th>
        <th>Mô tả / Description</th>
        <th>Xem / Browse</th>
      </tr>
      <xsl:for-each select="oai:set">
        <tr>
          <td>
            <xsl:if test="contains(oai:setSpec, ':')"><xsl:attribute name="class">sub</xsl:attribute></xsl:if>
            <code><xsl:value-of select="oai:setSpec"/></code>
          </td>
          <td><xsl:value-of select="oai:setName"/></td>
          <td>
            <xsl:for-each select="oai:setDescription">
              <xsl:choose>
                <xsl:when test="oai_dc:dc">
                  <xsl:for-each select="oai_dc:dc/*">
                    <xsl:if test="position() &gt; 1"><br/></xsl:if>
                    <xsl:value-of select="."/>
                  </xsl:for-each>
                </xsl:when>
                <xsl:otherwise><xsl:value-of select="normalize-space(.)"/></xsl:otherwise>
              </xsl:choose>
            </xsl:for-each>
          </td>
          <td>
            <xsl:call-template name="set-link">
              <xsl:with-param name="spec" select="string(oai:setSpec)"/>
              <xsl:with-param name="verb" select="'ListRecords'"/>
              <xsl:with-param name="label" select="'Biểu ghi / Records'"/>
            </xsl:call-template>
            <xsl:text> · </xsl:text>
            <xsl:call-template name="set-link">
              <xsl:with-param name="spec" select="string(oai:setSpec)"/>
              <xsl:with-param name="verb" select="'ListIdentifiers'"/>
              <xsl:with-param name="label" select="'Định danh / Identifiers'"/>
            </xsl:call-template>
          </td>
        </tr>
      </xsl:for-each>
    </table>
    <xsl:call-template name="next-page"/>
  </xsl:template>

  <!-- == GetRecord, ListRecords, ListIdentifiers ======================================== -->
  <xsl:template match="oai:GetRecord">
    <xsl:apply-templates select="oai:record"/>
  </xsl:template>

  <xsl:template match="oai:ListRecords | oai:ListIdentifiers">
    <xsl:variable name="items" select="oai:record | oai:header"/>
    <xsl:call-template name="paging"><xsl:with-param name="shown" select="count($items)"/></xsl:call-template>
    <xsl:call-template name="other-formats"/>
    <ol class="records" start="{number(concat('0', oai:resumptionToken/@cursor)) + 1}">
      <xsl:for-each select="$items">
        <li><xsl:apply-templates select="."/></li>
      </xsl:for-each>
    </ol>
    <xsl:call-template name="paging"><xsl:with-param name="shown" select="count($items)"/></xsl:call-template>
    <xsl:call-template name="next-page"/>
  </xsl:template>

  <xsl:template match="oai:record">
    <article>
      <xsl:attribute name="class">
        <xsl:text>record</xsl:text>
        <xsl:if test="oai:header/@status = 'deleted'"> deleted</xsl:if>
      </xsl:attribute>
      <h3>
        <xsl:choose>
          <xsl:when test="oai:header/@status = 'deleted'">Biểu ghi đã xóa / Deleted record</xsl:when>
          <xsl:otherwise><xsl:apply-templates select="oai:metadata/*" mode="title"/></xsl:otherwise>
        </xsl:choose>
      </h3>
      <xsl:apply-templates select="oai:header" mode="table"/>
      <xsl:apply-templates select="oai:metadata"/>
      <xsl:if test="oai:about">
        <h4>Nguồn gốc / Provenance</h4>
        <table>
          <xsl:apply-templates select="oai:about[oai_dc:dc]"/>
          <xsl:apply-templates select="oai:about[not(oai_dc:dc)]"/>
        </table>
      </xsl:if>
    </article>
  </xsl:template>

  <!-- A header on its own (ListIdentifiers) -->
  <xsl:template match="oai:header">
    <div>
      <xsl:attribute name="class">
        <xsl:text>record</xsl:text>
        <xsl:if test="@status = 'deleted'"> deleted</xsl:if>
      </xsl:attribute>
      <xsl:apply-templates select="." mode="table"/>
    </div>
  </xsl:template>

  <xsl:template match="oai:header" mode="table">
    <table class="header">
      <tr>
        <th>Định danh / Identifier</th>
        <td>
          <xsl:call-template name="identifier-links">
            <xsl:with-param name="identifier" select="string(oai:identifier)"/>
          </xsl:call-template>
        </td>
      </tr>
      <tr><th>Ngày cập nhật / Datestamp</th><td><xsl:value-of select="oai:datestamp"/></td></tr>
      <xsl:if test="oai:setSpec">
        <tr>
          <th>Tập / Sets</th>
          <td>
            <xsl:for-each select="oai:setSpec">
              <xsl:if test="position() &gt; 1">, </xsl:if>
              <xsl:call-template name="set-link">
                <xsl:with-param name="spec" select="string(.)"/>
                <xsl:with-param name="verb" select="'ListRecords'"/>
                <xsl:with-param name="label" select="string(.)"/>
              </xsl:call-template>
            </xsl:for-each>
          </td>
        </tr>
      </xsl:if>
      <xsl:if test="@status = 'deleted'">
        <tr>
          <th>Trạng thái / Status</th>
          <td>
            <span class="status-deleted">Đã xóa / Deleted</span>
            <span class="muted"> — kho chỉ còn giữ phần đầu biểu ghi / only the header is kept</span>
          </td>
        </tr>
      </xsl:if>
    </table>
  </xsl:template>

  <!-- The identifier as a link to the record in oai_dc, then the other formats. -->
  <xsl:template name="identifier-links">
    <xsl:param name="identifier"/>
    <a>
      <xsl:attribute name="href">
        <xsl:call-template name="query">
          <xsl:with-param name="verb" select="'GetRecord'"/>
          <xsl:with-param name="metadataPrefix" select="'oai_dc'"/>
          <xsl:with-param name="identifier" select="$identifier"/>
        </xsl:call-template>
      </xsl:attribute>
      <code><xsl:value-of select="$identifier"/></code>
    </a>
    <span class="muted">
      <xsl:text> (</xsl:text>
      <xsl:call-template name="record-link">
        <xsl:with-param name="identifier" select="$identifier"/>
        <xsl:with-param name="format" select="'oai_dc'"/>
      </xsl:call-template>
      <xsl:text> · </xsl:text>
      <xsl:call-template name="record-link">
        <xsl:with-param name="identifier" select="$identifier"/>
        <xsl:with-param name="format" select="'marc21'"/>
      </xsl:call-template>
      <xsl:text> · </xsl:text>
      <xsl:call-template name="record-link">
        <xsl:with-param name="identifier" select="$identifier"/>
        <xsl:with-param name="format" select="'mods'"/>
      </xsl:call-template>
      <xsl:text>)</xsl:text>
    </span>
  </xsl:template>

  <xsl:template name="record-link">
    <xsl:param name="identifier"/>
    <xsl:param name="format"/>
    <a>
      <xsl:attribute name="href">
        <xsl:call-template name="query">
          <xsl:with-param name="verb" select="'GetRecord'"/>
          <xsl:with-param name="metadataPrefix" select="$format"/>
          <xsl:with-param name="identifier" select="$identifier"/>
        </xsl:call-template>
      </xsl:attribute>
      <xsl:value-of select="$format"/>
    </a>
  </xsl:template>

  <xsl:template name="set-link">
    <xsl:param name="spec"/>
    <xsl:param name="verb"/>
    <xsl:param name="label"/>
    <a>
      <xsl:attribute name="href">
        <xsl:call-template name="query">
          <xsl:with-param name="verb" select="$verb"/>
          <xsl:with-param name="metadataPrefix" select="$prefix"/>
          <xsl:with-param name="set" select="$spec"/>
        </xsl:call-template>
      </xsl:attribute>
      <xsl:value-of select="$label"/>
    </a>
  </xsl:template>

  <!-- The same list in the other formats (only on a first page: a token fixes the format). -->
  <xsl:template name="other-formats">
    <xsl:if test="$request/@metadataPrefix">
      <p class="muted">
        <xsl:text>Xem dạng khác / Other formats: </xsl:text>
        <xsl:for-each select="$request">
          <xsl:call-template name="format-switch"><xsl:with-param name="format" select="'oai_dc'"/></xsl:call-template>
          <xsl:text> · </xsl:text>
          <xsl:call-template name="format-switch"><xsl:with-param name="format" select="'marc21'"/></xsl:call-template>
          <xsl:text> · </xsl:text>
          <xsl:call-template name="format-switch"><xsl:with-param name="format" select="'mods'"/></xsl:call-template>
        </xsl:for-each>
      </p>
    </xsl:if>
  </xsl:template>

  <!-- context: the request element -->
  <xsl:template name="format-switch">
    <xsl:param name="format"/>
    <a>
      <xsl:attribute name="href">
        <xsl:call-template name="query">
          <xsl:with-param name="verb" select="string(@verb)"/>
          <xsl:with-param name="metadataPrefix" select="$format"/>
          <xsl:with-param name="set" select="string(@set)"/>
          <xsl:with-param name="from" select="string(@from)"/>
          <xsl:with-param name="until" select="string(@until)"/>
        </xsl:call-template>
      </xsl:attribute>
      <xsl:value-of select="$format"/>
    </a>
  </xsl:template>

  <!-- == paging ========================================================================= -->
  <!-- Where this page stands in the whole list: "Biểu ghi 201–400 trong 5000". The cursor
       counts the items served before this page. -->
  <xsl:template name="paging">
    <xsl:param name="shown"/>
    <xsl:variable name="token" select="oai:resumptionToken"/>
    <xsl:if test="$shown &gt; 0">
      <p class="paging">
        <xsl:choose>
          <xsl:when test="not($token) or $token/@cursor">
            <xsl:variable name="first" select="number(concat('0', $token/@cursor)) + 1"/>
            <xsl:variable name="last" select="$first + $shown - 1"/>
            <xsl:variable name="size">
              <xsl:choose>
                <xsl:when test="$token/@completeListSize"><xsl:value-of select="$token/@completeListSize"/></xsl:when>
                <xsl:when test="not($token)"><xsl:value-of select="$shown"/></xsl:when>
              </xsl:choose>
            </xsl:variable>
            <xsl:value-of select="concat('Biểu ghi ', $first, '–', $last)"/>
            <xsl:if test="$size != ''"><xsl:value-of select="concat(' trong ', $size)"/></xsl:if>
            <span class="en">
              <xsl:value-of select="concat(' / Records ', $first, '–', $last)"/>
              <xsl:if test="$size != ''"><xsl:value-of select="concat(' of ', $size)"/></xsl:if>
            </span>
          </xsl:when>
          <xsl:otherwise>
            <xsl:value-of select="concat($shown, ' biểu ghi trên trang này')"/>
            <xsl:if test="$token/@completeListSize">
              <xsl:value-of select="concat(', tổng cộng ', $token/@completeListSize)"/>
            </xsl:if>
            <span class="en">
              <xsl:value-of select="concat(' / ', $shown, ' records on this page')"/>
              <xsl:if test="$token/@completeListSize">
                <xsl:value-of select="concat(', ', $token/@completeListSize, ' in all')"/>
              </xsl:if>
            </span>
          </xsl:otherwise>
        </xsl:choose>
      </p>
    </xsl:if>
  </xsl:template>

  <!-- The resumption token as a link to the next page, or the end of the list. -->
  <xsl:template name="next-page">
    <xsl:variable name="token" select="oai:resumptionToken"/>
    <xsl:choose>
      <xsl:when test="normalize-space($token) != ''">
        <p class="paging">
          <a class="next">
            <xsl:attribute name="href">
              <xsl:call-template name="query">
                <xsl:with-param name="verb" select="local-name()"/>
                <xsl:with-param name="resumptionToken" select="string($token)"/>
              </xsl:call-template>
            </xsl:attribute>
            <xsl:text>Trang sau / Next page →</xsl:text>
          </a>
          <xsl:if test="$token/@expirationDate">
            <span class="muted">
              <xsl:value-of select="concat(' (liên kết dùng được đến / link valid until ', $token/@expirationDate, ')')"/>
            </span>
          </xsl:if>
        </p>
      </xsl:when>
      <xsl:when test="$token">
        <p class="paging">Hết danh sách / End of the list</p>
      </xsl:when>
    </xsl:choose>
  </xsl:template>

  <!-- == metadata ======================================================================= -->
  <xsl:template match="oai:metadata">
    <h4>Dữ liệu mô tả / Metadata</h4>
    <xsl:apply-templates select="*" mode="metadata"/>
  </xsl:template>

  <!-- Dublin Core: one line per element, "name: value". -->
  <xsl:template match="oai_dc:dc" mode="metadata">
    <table class="dc">
      <xsl:for-each select="*">
        <tr>
          <th>
            <xsl:apply-templates select="." mode="dc-label"/>
            <span class="muted"><xsl:value-of select="concat(' (', name(), ')')"/></span>
          </th>
          <td>
            <xsl:value-of select="."/>
            <xsl:if test="@xml:lang"><span class="muted"> [<xsl:value-of select="@xml:lang"/>]</span></xsl:if>
          </td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <xsl:template match="dc:title" mode="dc-label">Nhan đề / Title</xsl:template>
  <xsl:template match="dc:creator" mode="dc-label">Tác giả / Creator</xsl:template>
  <xsl:template match="dc:subject" mode="dc-label">Chủ đề / Subject</xsl:template>
  <xsl:template match="dc:description" mode="dc-label">Mô tả / Description</xsl:template>
  <xsl:template match="dc:publisher" mode="dc-label">Nhà xuất bản / Publisher</xsl:template>
  <xsl:template match="dc:contributor" mode="dc-label">Tác giả phụ / Contributor</xsl:template>
  <xsl:template match="dc:date" mode="dc-label">Ngày tháng / Date</xsl:template>
  <xsl:template match="dc:type" mode="dc-label">Loại hình / Type</xsl:template>
  <xsl:template match="dc:format" mode="dc-label">Định dạng / Format</xsl:template>
  <xsl:template match="dc:identifier" mode="dc-label">Định danh / Identifier</xsl:template>
  <xsl:template match="dc:source" mode="dc-label">Nguồn / Source</xsl:template>
  <xsl:template match="dc:language" mode="dc-label">Ngôn ngữ / Language</xsl:template>
  <xsl:template match="dc:relation" mode="dc-label">Liên kết / Relation</xsl:template>
  <xsl:template match="dc:coverage" mode="dc-label">Phạm vi / Coverage</xsl:template>
  <xsl:template match="dc:rights" mode="dc-label">Bản quyền / Rights</xsl:template>
  <xsl:template match="*" mode="dc-label"><xsl:value-of select="local-name()"/></xsl:template>

  <!-- MARC 21: leader, then a line per field: tag, indicators (blank as _), $code value. -->
  <xsl:template match="marc:record" mode="metadata">
    <table class="marc">
      <tr>
        <td class="tag">LDR</td>
        <td></td>
        <td><xsl:value-of select="marc:leader"/></td>
      </tr>
      <xsl:for-each select="marc:controlfield">
        <tr>
          <td class="tag"><xsl:value-of select="@tag"/></td>
          <td></td>
          <td><xsl:value-of select="."/></td>
        </tr>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield">
        <tr>
          <td class="tag"><xsl:value-of select="@tag"/></td>
          <td><xsl:value-of select="translate(concat(@ind1, @ind2), ' ', '_')"/></td>
          <td>
            <xsl:for-each select="marc:subfield">
              <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
              <span class="code">$<xsl:value-of select="@code"/></span>
              <xsl:text> </xsl:text>
              <xsl:value-of select="."/>
            </xsl:for-each>
          </td>
        </tr>
      </xsl:for-each>
    </table>
    <p class="muted">Chỉ thị trống hiển thị là _ / blank indicators are shown as _</p>
  </xsl:template>

  <!-- Any other format (MODS, ...): every element that holds text, with its path. -->
  <xsl:template match="*" mode="metadata">
    <p class="muted"><xsl:value-of select="concat(local-name(), ' (', namespace-uri(), ')')"/></p>
    <xsl:apply-templates select="." mode="generic"/>
  </xsl:template>

  <xsl:template match="*" mode="generic">
    <xsl:variable name="top" select="generate-id()"/>
    <table class="generic">
      <xsl:for-each select="descendant-or-self::*[text()[normalize-space()]]">
        <tr>
          <th>
            <xsl:for-each select="ancestor::*[ancestor-or-self::*[generate-id() = $top]][generate-id() != $top]">
              <xsl:value-of select="concat(local-name(), ' › ')"/>
            </xsl:for-each>
            <xsl:value-of select="local-name()"/>
            <xsl:if test="@type"><span class="muted"><xsl:value-of select="concat(' (', @type, ')')"/></span></xsl:if>
          </th>
          <td><xsl:value-of select="normalize-space(.)"/></td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <!-- A record's title for its heading. -->
  <xsl:template match="oai_dc:dc" mode="title">
    <xsl:value-of select="dc:title[1]"/>
  </xsl:template>
  <xsl:template match="marc:record" mode="title">
    <xsl:variable name="title">
      <xsl:for-each select="marc:datafield[@tag = '245'][1]/marc:subfield[@code = 'a' or @code = 'b']">
        <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
        <xsl:value-of select="normalize-space(.)"/>
      </xsl:for-each>
    </xsl:variable>
    <!-- without the ISBD mark that announces the statement of responsibility -->
    <xsl:variable name="length" select="string-length($title)"/>
    <xsl:choose>
      <xsl:when test="contains(' / : ; = ,', substring($title, $length - 1))">
        <xsl:value-of select="substring($title, 1, $length - 2)"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$title"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
  <xsl:template match="*" mode="title">
    <xsl:value-of select="normalize-space((.//*[local-name() = 'title'])[1])"/>
  </xsl:template>

  <!-- == about: where the record came from ============================================== -->
  <xsl:template match="oai:about[oai_dc:dc]">
    <xsl:for-each select="oai_dc:dc/dc:source">
      <tr><th>Thư viện / Library</th><td><strong><xsl:value-of select="."/></strong></td></tr>
    </xsl:for-each>
    <xsl:for-each select="oai_dc:dc/dc:relation[starts-with(., 'library:')]">
      <tr>
        <th>Tập của thư viện / Library set</th>
        <td>
          <xsl:call-template name="set-link">
            <xsl:with-param name="spec" select="string(.)"/>
            <xsl:with-param name="verb" select="'ListRecords'"/>
            <xsl:with-param name="label" select="string(.)"/>
          </xsl:call-template>
        </td>
      </tr>
    </xsl:for-each>
  </xsl:template>

  <xsl:template match="oai:about[prov:provenance]">
    <xsl:apply-templates select="prov:provenance/prov:originDescription"/>
  </xsl:template>

  <xsl:template match="prov:originDescription">
    <tr>
      <th>Ngày thu nhận / Harvest date</th>
      <td>
        <xsl:value-of select="@harvestDate"/>
        <xsl:if test="@altered = 'true'">
          <span class="muted"> — đã chuyển đổi định dạng / converted</span>
        </xsl:if>
      </td>
    </tr>
    <tr><th>Địa chỉ nguồn / Origin base URL</th><td><code><xsl:value-of select="prov:baseURL"/></code></td></tr>
    <tr><th>Định danh nguồn / Origin identifier</th><td><code><xsl:value-of select="prov:identifier"/></code></td></tr>
    <tr>
      <th>Định dạng nguồn / Origin format</th>
      <td>
        <xsl:choose>
          <xsl:when test="prov:metadataNamespace = 'http://www.loc.gov/MARC21/slim'">MARC 21</xsl:when>
          <xsl:when test="prov:metadataNamespace = 'http://www.openarchives.org/OAI/2.0/oai_dc/'">Dublin Core</xsl:when>
          <xsl:otherwise><code><xsl:value-of select="prov:metadataNamespace"/></code></xsl:otherwise>
        </xsl:choose>
      </td>
    </tr>
    <xsl:apply-templates select="prov:originDescription"/>
  </xsl:template>

  <xsl:template match="oai:about">
    <tr>
      <th>Thông tin thêm / About</th>
      <td><xsl:value-of select="normalize-space(.)"/></td>
    </tr>
  </xsl:template>

  <!-- == links ========================================================================== -->
  <!-- A relative query string with the arguments that are not empty, values escaped. -->
  <xsl:template name="query">
    <xsl:param name="verb"/>
    <xsl:param name="metadataPrefix"/>
    <xsl:param name="identifier"/>
    <xsl:param name="set"/>
    <xsl:param name="from"/>
    <xsl:param name="until"/>
    <xsl:param name="resumptionToken"/>
    <xsl:text>?verb=</xsl:text>
    <xsl:value-of select="$verb"/>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'metadataPrefix'"/>
      <xsl:with-param name="value" select="$metadataPrefix"/>
    </xsl:call-template>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'identifier'"/>
      <xsl:with-param name="value" select="$identifier"/>
    </xsl:call-template>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'set'"/>
      <xsl:with-param name="value" select="$set"/>
    </xsl:call-template>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'from'"/>
      <xsl:with-param name="value" select="$from"/>
    </xsl:call-template>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'until'"/>
      <xsl:with-param name="value" select="$until"/>
    </xsl:call-template>
    <xsl:call-template name="argument">
      <xsl:with-param name="name" select="'resumptionToken'"/>
      <xsl:with-param name="value" select="$resumptionToken"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="argument">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:if test="string($value) != ''">
      <xsl:value-of select="concat('&amp;', $name, '=')"/>
      <xsl:call-template name="url-escape"><xsl:with-param name="text" select="string($value)"/></xsl:call-template>
    </xsl:if>
  </xsl:template>

  <!-- Escapes one special character at a time; text without any is copied at once.
       Other characters are left to the browser, which percent-encodes them in UTF-8. -->
  <xsl:template name="url-escape">
    <xsl:param name="text"/>
    <xsl:param name="specials" select="$url-specials"/>
    <xsl:param name="escapes" select="$url-escapes"/>
    <xsl:choose>
      <xsl:when test="$specials = '' or translate($text, $specials, '') = $text">
        <xsl:value-of select="$text"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:variable name="escaped">
          <xsl:call-template name="replace">
            <xsl:with-param name="text" select="$text"/>
            <xsl:with-param name="from" select="substring($specials, 1, 1)"/>
            <xsl:with-param name="to" select="substring($escapes, 1, 3)"/>
          </xsl:call-template>
        </xsl:variable>
        <xsl:call-template name="url-escape">
          <xsl:with-param name="text" select="string($escaped)"/>
          <xsl:with-param name="specials" select="substring($specials, 2)"/>
          <xsl:with-param name="escapes" select="substring($escapes, 4)"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="concat(substring-before($text, $from), $to)"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="text()"/>
</xsl:stylesheet>
